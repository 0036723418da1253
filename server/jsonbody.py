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

The parsed body is kept on ``g`` so a view that reads it (`request_json`) does
not parse a large workbook payload twice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from flask import Flask, g, request

from server.errors import ApiError

MAX_DEPTH = 32
"""Deeper than any body the API or an xlwings payload sends (a sync push is 5 levels, a workbook 4)."""
MAX_DIGITS = 32
"""Longer than any integer a client sends (Excel and JavaScript numbers print at most 21 digits)."""
PATHS = ("/api/", "/xlwings/")
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_NOT_PARSED = object()


class _BadNumber(ValueError):
    pass


def _integer(text: str) -> int:
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


def _problems(value: Any) -> Iterator[tuple[str, str]]:
    """(code, place) of the first problems in a parsed body: too deep, lone surrogates; without recursion."""
    stack: list[tuple[Any, str, int]] = [(value, "json", 1)]
    while stack:
        item, place, depth = stack.pop()
        if isinstance(item, str):
            if _is_surrogate(item):
                yield "lone_surrogate", place
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                yield "json_too_deep", place
                continue
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, inner in pairs:
                if isinstance(key, str) and _is_surrogate(key):
                    yield "lone_surrogate", f"{place} (a key)"
                stack.append((inner, f"{place}.{key}", depth + 1))


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
    for code, place in _problems(value):
        if code == "json_too_deep":
            problem = f"nested deeper than {MAX_DEPTH} levels at {place} / {place} 处嵌套超过 {MAX_DEPTH} 层"
        else:
            problem = (
                f"a lone UTF-16 surrogate (\\ud800–\\udfff without its pair) in {place} / "
                f"{place} 含有不成对的代理字符"
            )
        raise _bad(code, problem, {"field": place})
    return value


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
    g.json_body = parse(data)


def request_json() -> Any:
    """This request's body as checked by `check_request` (None without a body)."""
    value = g.get("json_body", _NOT_PARSED)
    if value is _NOT_PARSED:
        data = request.get_data(cache=True)
        value = parse(data) if data else None
        g.json_body = value
    return value


def init_app(app: Flask) -> None:
    app.before_request(check_request)
