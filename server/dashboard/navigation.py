"""Where the dashboard sends people: safe targets for redirects, and the language switch."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import abort, make_response, redirect, render_template, request, url_for

from server.dashboard.blueprint import bp
from server.dashboard.i18n import LANG_COOKIE, LANGS, t


def safe_next(target: str | None) -> str:
    """``target`` if it is a path of this site's dashboard, else the overview (no open redirects).

    400 for a target with control characters (a line break would split the ``Location`` header).
    """
    if target:
        if not target.isprintable():  # a line break would split the Location header
            page = render_template("dashboard/message.html", message=t("bad_next"))
            abort(make_response(page, 400))
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/dashboard") and "\\" not in target:
            return target
    return url_for("dashboard.overview")


@bp.route("/lang/<lang>")
def switch_language(lang: str) -> Any:
    """Remember the language in a cookie and go back to the page the switch was clicked on."""
    response = make_response(redirect(safe_next(request.args.get("next"))))
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="Lax")
    return response
