"""Big request bodies: a size limit that holds for chunked bodies too, and the collector paused for them.

With ``Transfer-Encoding: chunked`` there is no Content-Length to check, and
Werkzeug stops reading at ``MAX_CONTENT_LENGTH`` without complaint: the view
would see a silently truncated body. Reading one byte more makes the limited
stream raise 413 instead.

A request with a big body runs with Python's cyclic garbage collector paused. A
5,000-row push builds a few hundred thousand objects that all live until its
answer is sent: the collector, started by the count of new objects, walked them
again and again (two full collections and some twenty partial ones, a sixth of
the push's time) and found nothing to free. Reference counting still frees
everything as usual; garbage in cycles waits for the collection after the
request. Requests run in threads: the collector resumes when the last big
request ends, and is left as it was found (tests may switch it off).
"""

from __future__ import annotations

import gc
import threading

from flask import Flask, g, request
from werkzeug.exceptions import RequestEntityTooLarge

BIG_BODY = 256 * 1024
"""Bytes of body from which a request pauses the collector (a push of some 400 tickets)."""

_lock = threading.Lock()
_paused = 0
_was_enabled = False


def _refuse_oversized_chunked_body() -> None:
    if request.content_length is not None or request.method in ("GET", "HEAD", "OPTIONS"):
        return
    limit = request.max_content_length
    if limit is None:
        return
    request.get_data(cache=True)
    if request.stream.read(1):
        raise RequestEntityTooLarge()


def pause_collector() -> None:
    """Pause the collector until the matching `resume_collector` (nested and concurrent pauses count)."""
    global _paused, _was_enabled
    with _lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1


def resume_collector() -> None:
    global _paused
    with _lock:
        _paused -= 1
        if _paused == 0 and _was_enabled:
            gc.enable()


def _pause_for_a_big_body() -> None:
    if (request.content_length or 0) >= BIG_BODY:
        pause_collector()
        g.collector_paused = True


def _resume(_exc: BaseException | None) -> None:
    if g.pop("collector_paused", False):
        resume_collector()


def init_app(app: Flask) -> None:
    """Register first: a big body's parse (`server.jsonbody`) runs with the collector paused too."""
    app.before_request(_pause_for_a_big_body)
    app.teardown_request(_resume)
    app.before_request(_refuse_oversized_chunked_body)
