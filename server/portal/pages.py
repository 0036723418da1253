"""``/branch``: a branch without Python signs in, uploads its workbook and downloads it back merged.

Sign-in is the branch code and its API token (the same token the Sync button
uses); the session then holds only the token's id, checked again on every
request so a revoked token ends the session. Every form carries the CSRF
token and every page the dashboard's security headers.
"""

from __future__ import annotations

import io
import os
import time
import uuid
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)

from server import clock
from server.auth import BRANCH, authenticate
from server.dashboard.security import add_headers, csrf_ok, csrf_token
from server.errors import ApiError
from server.files import write_private
from server.portal.merge import MergeResult, merge_upload
from server.remote.files import public_url
from server.services.changes import Actor
from server.services.workbooks import blank_workbook
from server.storage.db import get_db
from server.storage.models import BranchRow, TokenRow

bp = Blueprint("branch_portal", __name__, url_prefix="/branch")
KEEP_SECONDS = 24 * 3600
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "分支机构工作簿同步",
        "intro": "没有安装 Python 的分支机构：登录后上传投诉工作簿，"
        "下载合并后的工作簿（含预警标记、颜色和冲突）。",
        "branch": "分支机构编码",
        "token": "访问令牌",
        "sign_in": "登录",
        "sign_out": "退出",
        "bad_sign_in": "分支机构编码或访问令牌不正确。",
        "file": "工作簿 (.xlsx)",
        "upload": "上传并合并",
        "no_file": "请选择一个 .xlsx 工作簿。",
        "refused": "工作簿未导入（没有任何数据被修改），请修正以下问题后重新上传：",
        "done": "合并完成",
        "created": "新建投诉",
        "updated": "更新投诉",
        "conflicts": "冲突（服务器值已保留，双方的值写在“冲突”工作表中）",
        "rejected": "未接受的行",
        "renumbered": "重新编号（两份工作簿使用了同一编号）",
        "download": "下载合并后的工作簿",
        "again": "上传另一个工作簿",
        "csrf": "表单已过期，请刷新页面后重试。",
        "expired": "下载已过期，请重新上传。",
        "get_started": "下载与安装",
        "blank_zh": "本网点的空白工作簿（中文表头）",
        "blank_en": "本网点的空白工作簿（英文表头）",
        "blank_note": "“设置”表中已填好网点编码、服务器地址和时区。",
        "xlam": "桌面加载项 complaint-desk.xlam（Windows Excel，本机安装 Python）",
        "manifest": "网页版加载项清单 manifest.xml（Excel 网页版、Mac，或没有 Python 的电脑）",
        "addin_help": "安装说明见 docs/addin.md；网页版加载项的“设置”中粘贴本网点的访问令牌。",
        "dashboard": "总部看板",
        "ledger_link": "导入本网点原有的投诉台账（Excel / CSV）",
        "evidence_link": "上传或下载投诉单的证据附件",
    },
    "en": {
        "title": "Branch workbook sync",
        "intro": "For branches without Python: sign in, upload the complaints workbook, and download it back "
        "merged (with flags, colours and conflicts).",
        "branch": "Branch code",
        "token": "Access token",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "bad_sign_in": "The branch code or the access token is wrong.",
        "file": "Workbook (.xlsx)",
        "upload": "Upload and merge",
        "no_file": "Choose an .xlsx workbook.",
        "refused": "The workbook was not imported (nothing was changed); "
        "fix these problems and upload again:",
        "done": "Merged",
        "created": "Tickets created",
        "updated": "Tickets updated",
        "conflicts": "Conflicts (the server's value is kept; both values are on the Conflicts sheet)",
        "rejected": "Rows not accepted",
        "renumbered": "Renumbered (two workbooks used the same number)",
        "download": "Download the merged workbook",
        "again": "Upload another workbook",
        "csrf": "The form has expired; reload the page and try again.",
        "expired": "This download has expired; upload the workbook again.",
        "get_started": "Downloads and set-up",
        "blank_zh": "This branch's blank workbook (Chinese headers)",
        "blank_en": "This branch's blank workbook (English headers)",
        "blank_note": "Its Settings sheet already holds the branch code, this server's address "
        "and the time zone.",
        "xlam": "Desktop add-in complaint-desk.xlam (Windows Excel with Python on the PC)",
        "manifest": "Web add-in manifest.xml (Excel on the web, Mac, or a PC without Python)",
        "addin_help": "How to install: docs/addin.md; in the web add-in, paste this branch's access token "
        "under Settings.",
        "dashboard": "Head-office dashboard",
        "ledger_link": "Import the complaint ledger this branch kept before (Excel / CSV)",
        "evidence_link": "Upload or download a ticket's evidence (recordings, screenshots, SMS logs)",
    },
}


def lang() -> str:
    chosen = request.args.get("lang") or session.get("branch_lang")
    if chosen in TEXT:
        session["branch_lang"] = chosen
        return chosen
    return request.accept_languages.best_match(["zh", "en"], default="zh") or "zh"


def render_page(template: str, status: int = 200, **values: Any) -> tuple[str, int]:
    words = TEXT[lang()]
    page = render_template(f"branch/{template}", t=words, lang=lang(), csrf_token=csrf_token, **values)
    return page, status


def signed_in_branch() -> BranchRow | None:
    """The branch of the session's token, if the token still stands."""
    token_id = session.get("branch_token")
    if not isinstance(token_id, int):
        return None
    with get_db().read() as db_session:
        token = db_session.get(TokenRow, token_id)
        if token is None or token.revoked_at is not None or token.role != BRANCH or token.branch_id is None:
            session.pop("branch_token", None)
            return None
        return db_session.get(BranchRow, token.branch_id)


def _downloads_dir() -> Path:
    folder = Path(
        current_app.config.get("BRANCH_DOWNLOADS") or Path(current_app.instance_path) / "branch-downloads"
    )
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - KEEP_SECONDS
    for old in folder.glob("*.xlsx"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    return folder


@bp.before_request
def _check_csrf() -> Any:
    if request.method == "POST" and not csrf_ok():
        return render_page("message.html", 400, message=TEXT[lang()]["csrf"])
    return None


@bp.get("/")
def home() -> Any:
    branch = signed_in_branch()
    if branch is None:
        return render_page("signin.html")
    return render_page("upload.html", branch=branch)


@bp.post("/signin")
def signin() -> Any:
    code = request.form.get("branch", "").strip()
    token = request.form.get("token", "").strip()
    try:
        principal = authenticate(f"Bearer {token}")
    except ApiError:
        principal = None
    if principal is None or principal.role != BRANCH or principal.branch_code.casefold() != code.casefold():
        return render_page("signin.html", 401, error=TEXT[lang()]["bad_sign_in"], branch_code=code)
    session.clear()
    session["branch_token"] = principal.token_id
    return redirect(url_for("branch_portal.home"))


@bp.post("/signout")
def signout() -> Any:
    session.pop("branch_token", None)
    return redirect(url_for("branch_portal.home"))


@bp.post("/upload")
def upload() -> Any:
    branch = signed_in_branch()
    if branch is None:
        return redirect(url_for("branch_portal.home"))
    sent = request.files.get("workbook")
    if sent is None or not sent.filename:
        return render_page("upload.html", 400, branch=branch, error=TEXT[lang()]["no_file"])
    data = sent.read()
    actor = Actor(branch.code, BRANCH, "upload")
    result: MergeResult = merge_upload(get_db(), branch.id, data, actor, clock.now())
    if result.content is None:
        return render_page("upload.html", 422, branch=branch, problems=result.problems, problem_lang=lang())
    name = f"{branch.id}-{uuid.uuid4().hex}.xlsx"
    write_private(_downloads_dir() / name, result.content)
    original = os.path.basename(sent.filename) or f"{branch.code}.xlsx"
    session["branch_download_name"] = original
    return render_page("result.html", branch=branch, result=result, download=name)


@bp.get("/workbook.xlsx")
def workbook() -> Any:
    """The signed-in branch's blank workbook, headers in ``?lang=`` (default: the page's language)."""
    branch = signed_in_branch()
    if branch is None:
        return redirect(url_for("branch_portal.home"))
    headers = request.args.get("headers", lang())
    if headers not in TEXT:
        abort(404)
    filename, content = blank_workbook(get_db(), branch.id, headers, public_url())
    return send_file(io.BytesIO(content), mimetype=XLSX, as_attachment=True, download_name=filename)


@bp.get("/download/<name>")
def download(name: str) -> Any:
    branch = signed_in_branch()
    if branch is None:
        return redirect(url_for("branch_portal.home"))
    if not name.startswith(f"{branch.id}-") or "/" in name or not name.endswith(".xlsx"):
        abort(404)
    path = _downloads_dir() / name
    if not path.is_file():
        return render_page("message.html", 404, message=TEXT[lang()]["expired"])
    filename = session.get("branch_download_name") or f"{branch.code}.xlsx"
    return send_file(path, mimetype=XLSX, as_attachment=True, download_name=filename)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.after_request
    def _branch_headers(response: Response) -> Response:
        return add_headers(response) if request.path.startswith(bp.url_prefix or "/branch") else response
