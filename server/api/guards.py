"""Checks every API request passes before its view: no NUL character where the database cannot store it.

PostgreSQL text cannot hold U+0000, so there a NUL in a pushed field, a query
parameter, a path or a header would fail deep in a query with a 500. It is
refused up front with 400, naming the place. SQLite stores it, and the text
round-trips exactly (battery item 5), so on SQLite nothing is refused. The body
is parsed only when its bytes hold a ``\\u0000`` escape (a raw NUL byte is
already invalid JSON).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Flask, request

from server.errors import ApiError
from server.jsonbody import request_json
from server.storage.db import get_db

NUL = "\x00"


def _nul_places(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if NUL in value:
            yield path
    elif isinstance(value, dict):
        for key, inner in value.items():
            if NUL in str(key):
                yield f"{path}.{key!r}"
            yield from _nul_places(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _nul_places(inner, f"{path}.{index}")


def _refuse(where: dict[str, str]) -> ApiError:
    place = next(iter(where.values())).replace(NUL, "\\0")
    return ApiError(
        400,
        "nul_character",
        f"the database cannot store the NUL character (U+0000): {place} / "
        f"数据库无法保存空字符 (U+0000)：{place}",
        {key: value.replace(NUL, "\\0") for key, value in where.items()},
    )


def refuse_nul() -> None:
    if not request.path.startswith("/api/") or get_db().is_sqlite:
        return
    if NUL in request.path:
        raise _refuse({"path": request.path})
    for name, value in request.args.items(multi=True):
        if NUL in name or NUL in value:
            raise _refuse({"query": name})
    for name, value in request.headers.items():
        if NUL in value:
            raise _refuse({"header": name})
    if request.is_json and b"\\u0000" in request.get_data(cache=True):
        body = request_json()
        place = next(_nul_places(body, "json"), None)
        if place is not None:
            raise _refuse({"field": place})


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul)
