"""``/officejs/``: the add-ins, served by the server they talk to.

- ``/officejs/manifest.xml``: the Office.js manifest with this server's public
  address in every URL (``SERVER_URL``, else the address the request came to).
  Office loads add-ins only over HTTPS, so an ``http://`` address is refused
  with what to set. ``?download=1`` sends it as a file to save.
- ``/officejs/commands.html``, ``commands.js``, ``taskpane.html`` and the icons
  under ``assets/``: what the manifest points to. Excel shows these pages in
  its own frames, so they carry none of the dashboard's framing headers.
- ``/officejs/complaint-desk.xlam``: the desktop add-in, built once per process.

Nothing here needs a token: the files hold no data, and every button's call
(``POST /xlwings/<macro>``) carries the coordinator's own.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request, send_from_directory

from addin import officejs
from addin.build_xlam import build

bp = Blueprint("officejs", __name__, url_prefix="/officejs")
SERVED = {".html", ".js", ".png"}
"""What the manifest points to; the folder's Python and the raw manifest stay unserved."""
XLAM = "application/vnd.ms-excel.addin.macroEnabled.12"


def public_url() -> str:
    """This server's address as branches reach it: ``SERVER_URL``, else the request's own."""
    return (current_app.config.get("SERVER_URL") or request.url_root).rstrip("/")


@bp.get("/manifest.xml")
def manifest() -> Any:
    base = public_url()
    try:
        text = officejs.manifest(base)
    except ValueError:
        message = (
            f"Office 加载项只能通过 HTTPS 加载，而本服务器的地址是 {base}。"
            "请在 HTTPS 之后运行服务器，并设置 FLASK_SERVER_URL=https://…（分支机构访问的地址）。\n"
            f"Office add-ins load only over HTTPS, and this server's address is {base}. "
            "Serve it behind HTTPS and set FLASK_SERVER_URL=https://… (the address branches use).\n"
        )
        return Response(message, 409, mimetype="text/plain")
    response = Response(text, mimetype="application/xml")
    if request.args.get("download"):
        response.headers["Content-Disposition"] = "attachment; filename=complaint-desk-manifest.xml"
    return response


@cache
def _built_xlam() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return build(Path(folder) / "complaint-desk.xlam").read_bytes()


@bp.get("/complaint-desk.xlam")
def xlam() -> Any:
    response = Response(_built_xlam(), mimetype=XLAM)
    response.headers["Content-Disposition"] = "attachment; filename=complaint-desk.xlam"
    return response


@bp.get("/<path:name>")
def page(name: str) -> Any:
    if Path(name).suffix not in SERVED:
        abort(404)
    return send_from_directory(officejs.HERE, name)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
