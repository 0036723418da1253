"""The head-office dashboard (``/dashboard``): sign-in, overview, tickets, escalation, downloads.

Signed-in users of the roles head_office and admin; a branch's investigators and department heads
sign in for their own tickets only (`people`); every POST carries a
CSRF token; every response under ``/dashboard`` gets the security headers.
Session cookies are HttpOnly and SameSite=Lax, and Secure when
``DASHBOARD_SECURE_COOKIES`` is set (behind HTTPS).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, get_flashed_messages, render_template, request

from server.dashboard import (  # noqa: F401 - they add routes
    dossier,
    downloads,
    evidence,
    groups,
    messages,
    navigation,
    overview,
    people,
    rootcause,
    signin,
    tickets,
)
from server.dashboard.blueprint import bp
from server.dashboard.figures import FiguresCache
from server.dashboard.i18n import current_lang, t
from server.dashboard.security import add_headers, csrf_ok, csrf_token, nonce

PREFIX = "/dashboard"


@bp.before_request
def _check_csrf() -> Any:
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and not csrf_ok():
        return render_template("dashboard/message.html", message=t("csrf_failed")), 400
    return None


@bp.app_context_processor
def _page_helpers() -> dict[str, Any]:
    if not request.path.startswith(PREFIX):
        return {}
    return {
        "t": t,
        "lang": current_lang(),
        "csrf_token": csrf_token,
        "csp_nonce": nonce,
        "user": signin.signed_in_user,
        "messages": lambda: get_flashed_messages(with_categories=True),
    }


def init_app(app: Flask) -> None:
    app.config.setdefault("DASHBOARD_SECURE_COOKIES", False)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if app.config["DASHBOARD_SECURE_COOKIES"]:
        app.config["SESSION_COOKIE_SECURE"] = True
    app.extensions["dashboard_figures"] = FiguresCache()
    app.register_blueprint(bp)

    @app.after_request
    def _dashboard_headers(response: Response) -> Response:
        # app-wide, so that a 404 for an unknown /dashboard/… address is covered too
        return add_headers(response) if request.path.startswith(PREFIX) else response
