"""Request size limit that holds for chunked bodies too.

With ``Transfer-Encoding: chunked`` there is no Content-Length to check, and
Werkzeug stops reading at ``MAX_CONTENT_LENGTH`` without complaint: the view
would see a silently truncated body. Reading one byte more makes the limited
stream raise 413 instead.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge


def _refuse_oversized_chunked_body() -> None:
    if request.content_length is not None or request.method in ("GET", "HEAD", "OPTIONS"):
        return
    limit = request.max_content_length
    if limit is None:
        return
    request.get_data(cache=True)
    if request.stream.read(1):
        raise RequestEntityTooLarge()


def init_app(app: Flask) -> None:
    app.before_request(_refuse_oversized_chunked_body)
