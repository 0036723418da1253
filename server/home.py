"""``/``: the way in — a bilingual page linking every door a person uses.

Head office's dashboard, the branch portal (upload, blank workbook, add-ins),
the two add-ins and the API description. It holds no data and needs no sign-in.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, make_response, render_template

from server.dashboard.security import add_headers

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> Any:
    return add_headers(make_response(render_template("home.html")))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
