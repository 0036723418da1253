"""Request bodies as strict JSON: 415 for another content type, 400 naming the problem for bad JSON.

Every ``POST``/``PUT``/``PATCH``/``DELETE`` with a body to the API (``/api/``)
or the remote buttons (``/xlwings/``) passes `check_request` before its view,
so before the view claims its Idempotency-Key:

- a body that is not ``application/json`` (or ``…+json``) gets 415: a client
  sending JSON as ``text/plain`` would otherwise have it ignored (webargs reads
  JSON only by content type) and its key spent on an empty request;
- text that is not UTF-8 or not JSON, JSON nested deeper than `MAX_DEPTH`,
  integers longer than `MAX_DIGITS` digits (Python refuses to convert
  thousands of digits), ``NaN``/``Infinity`` and numbers too large for a float,
  and lone UTF-16 surrogates (``"\\ud800"``, which no database and no UTF-8
  response can hold) get 400 with the place (``json.tickets.0.fields.place``).

The buttons' bodies (``/xlwings/``) may come gzipped (``Content-Encoding:
gzip``; the web client compresses where the browser can): ``MAX_CONTENT_LENGTH``
bounds the compressed body as sent, ``MAX_INFLATED_LENGTH`` the JSON it
inflates to. The bound is checked while inflating, a block at a time, so a
small body that inflates to gigabytes (a zip bomb) is refused with 413 after
at most the limit was held in memory.

The parsed body is kept on ``g`` so a view that reads it (`request_json`) does
not parse a large workbook payload twice.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Iterator
from typing import Any

from flask import Flask, current_app, g, request

from server.errors import ApiError

MAX_DEPTH = 32
"""Deeper than any body the API or an xlwings payload sends (a sync push is 5 levels, a workbook 4)."""
MAX_DIGITS = 32
"""Longer than any integer a client sends (Excel and JavaScript numbers print at most 21 digits)."""
PATHS = ("/api/", "/xlwings/")
GZIP_PATHS = ("/xlwings/",)
"""Where a gzipped body is accepted: the workbook payloads, the only large bodies."""
MAX_INFLATED_LENGTH = 64 * 1024 * 1024
"""Default bound of a gzipped body once inflated: a 50,000-row branch workbook is 33–44 MB of JSON."""
_BLOCK = 1024 * 1024
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_NOT_PARSED = object()
_CONTAINERS = frozenset((dict, list))
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class _BadNumber(ValueError):
    pass


def _integer(text: str) -> int:
    if len(text) <= MAX_DIGITS:  # the common case, checked with one comparison
        return int(text)
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise _BadNumber(
            f"an integer of {digits} digits; at most {MAX_DIGITS} / 整数有 {digits} 位，最多 {MAX_DIGITS} 位"
        )
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _BadNumber(f"the number {text[:40]} is too large / 数值 {text[:40]} 过大")
    return value


def _constant(name: str) -> float:
    raise _BadNumber(f"{name} is not JSON; send null or a number / {name} 不是 JSON，请用 null 或数值")


def _bad(code: str, problem: str, where: dict[str, Any]) -> ApiError:
    return ApiError(400, code, f"the request body is not accepted: {problem}", where)


def _is_surrogate(text: str) -> bool:
    return not text.isascii() and any("\ud800" <= ch <= "\udfff" for ch in text)


def _problems(value: Any, strings: bool) -> Iterator[tuple[str, str]]:
    """(code, place) of problems in a parsed body: too deep, lone surrogates (if ``strings``); no recursion.

    Places are made only for a problem found, so a large body costs one pass over its containers.
    """
    if not isinstance(value, dict | list):
        if strings and isinstance(value, str) and _is_surrogate(value):
            yield "lone_surrogate", "json"
        return
    stack: list[tuple[Any, tuple[Any, ...], int]] = [(value, (), 1)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            yield "json_too_deep", _place(path)
            continue
        if strings:
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, inner in pairs:
                if isinstance(key, str) and _is_surrogate(key):
                    yield "lone_surrogate", f"{_place(path)} (a key)"
                if isinstance(inner, str) and _is_surrogate(inner):
                    yield "lone_surrogate", _place((*path, key))
        if _CONTAINERS.isdisjoint(map(type, item.values() if isinstance(item, dict) else item)):
            continue  # a row of cells: nothing nested, and no Python loop over it
        inners = item.items() if isinstance(item, dict) else enumerate(item)
        stack.extend(
            (inner, (*path, key), depth + 1) for key, inner in inners if inner.__class__ in _CONTAINERS
        )


def _place(path: tuple[Any, ...]) -> str:
    return ".".join(["json", *map(str, path)])


def parse(data: bytes) -> Any:
    """The JSON value of ``data``; `ApiError` 400 naming the problem and, where known, its place."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(
            "bad_json", f"not UTF-8 at byte {exc.start} / 请求体不是 UTF-8 编码", {"body": exc.start}
        ) from exc
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except _BadNumber as exc:
        raise _bad("bad_number", str(exc), {"body": "number"}) from exc
    except RecursionError as exc:
        problem = f"nested deeper than {MAX_DEPTH} levels / 嵌套超过 {MAX_DEPTH} 层"
        raise _bad("json_too_deep", problem, {"body": "nesting"}) from exc
    except json.JSONDecodeError as exc:
        problem = f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno} / 请求体不是合法的 JSON"
        raise _bad("bad_json", problem, {"body": f"line {exc.lineno}, column {exc.colno}"}) from exc
    escaped_surrogate = _SURROGATE_ESCAPE.search(data) is not None  # the only way JSON text holds one
    for code, place in _problems(value, escaped_surrogate):
        if code == "json_too_deep":
            problem = f"nested deeper than {MAX_DEPTH} levels at {place} / {place} 处嵌套超过 {MAX_DEPTH} 层"
        else:
            problem = (
                f"a lone UTF-16 surrogate (\\ud800–\\udfff without its pair) in {place} / "
                f"{place} 含有不成对的代理字符"
            )
        raise _bad(code, problem, {"field": place})
    return value


def inflate(data: bytes, limit: int) -> bytes:
    """The gzip body ``data`` inflated; 413 as soon as it would pass ``limit`` bytes, 400 if not gzip."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    parts: list[bytes] = []
    size = 0
    try:
        while data:
            part = inflater.decompress(data, min(_BLOCK, limit + 1 - size))
            size += len(part)
            if size > limit:
                megabytes = f"{limit / 1024 / 1024:g}"
                raise ApiError(
                    413,
                    "inflated_too_large",
                    f"the gzipped body inflates to more than {limit:,} bytes ({megabytes} MB), the limit "
                    f"(MAX_INFLATED_LENGTH); nothing was done / 解压后的请求体超过上限 {limit:,} 字节"
                    f"（{megabytes} MB，MAX_INFLATED_LENGTH），本次请求未执行",
                    {"header": "Content-Encoding", "limit": limit},
                )
            parts.append(part)
            data = inflater.unconsumed_tail
            if inflater.eof:
                break
    except zlib.error as exc:
        raise _bad(
            "bad_gzip", f"not gzip: {exc} / 请求体不是有效的 gzip 数据", {"header": "Content-Encoding"}
        ) from exc
    if not inflater.eof or inflater.unused_data:
        problem = "the gzip data is cut short or has bytes after its end / gzip 数据不完整或结尾后有多余字节"
        raise _bad("bad_gzip", problem, {"header": "Content-Encoding"})
    return b"".join(parts)


def _decoded(data: bytes) -> bytes:
    """The body as JSON text: gzip inflated where accepted; 415 for any other content coding."""
    coding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if coding == "identity":
        return data
    if coding == "gzip" and request.path.startswith(GZIP_PATHS):
        return inflate(data, current_app.config.get("MAX_INFLATED_LENGTH", MAX_INFLATED_LENGTH))
    raise ApiError(
        415,
        "unsupported_content_encoding",
        f"Content-Encoding {coding!r} is not accepted here (gzip is, on /xlwings/ only); nothing was done / "
        f"此处不接受 Content-Encoding {coding!r}（仅 /xlwings/ 接受 gzip），本次请求未执行",
        {"header": "Content-Encoding"},
    )


def _is_json_type() -> bool:
    mimetype = request.mimetype
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def check_request() -> None:
    """415 for a body that is not JSON, 400 for bad JSON, on the API's and the buttons' paths."""
    if request.method not in BODY_METHODS or not request.path.startswith(PATHS):
        return
    data = request.get_data(cache=True)
    if not data:
        return
    if not _is_json_type():
        sent = request.mimetype or "none"
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send the body as JSON, 'Content-Type: application/json' (it was {sent}); nothing was done / "
            f"请以 JSON 发送请求体（Content-Type: application/json，本次为 {sent}），本次请求未执行",
            {"header": "Content-Type"},
        )
    g.json_body = parse(_decoded(data))


def request_json() -> Any:
    """This request's body as checked by `check_request` (None without a body)."""
    value = g.get("json_body", _NOT_PARSED)
    if value is _NOT_PARSED:
        data = request.get_data(cache=True)
        value = parse(_decoded(data)) if data else None
        g.json_body = value
    return value


def init_app(app: Flask) -> None:
    app.config.setdefault("MAX_INFLATED_LENGTH", MAX_INFLATED_LENGTH)
    app.before_request(check_request)
