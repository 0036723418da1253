"""Requests with a big body run with Python's cyclic garbage collector paused.

A 5,000-row push builds a few hundred thousand objects that all live until its
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

BIG_BODY = 256 * 1024
"""Bytes of body from which a request pauses the collector (a push of some 400 tickets)."""

_lock = threading.Lock()
_paused = 0
_was_enabled = False


def pause() -> None:
    """Pause the collector until the matching `resume` (nested and concurrent pauses count)."""
    global _paused, _was_enabled
    with _lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1


def resume() -> None:
    global _paused
    with _lock:
        _paused -= 1
        if _paused == 0 and _was_enabled:
            gc.enable()


def init_app(app: Flask) -> None:
    @app.before_request
    def _pause_for_big_bodies() -> None:
        if (request.content_length or 0) >= BIG_BODY:
            pause()
            g.collector_paused = True

    @app.teardown_request
    def _resume(_exc: BaseException | None) -> None:
        if g.pop("collector_paused", False):
            resume()
