"""Signing in and out with a username and password; who is signed in, and which pages they may open.

Head-office and admin users open every dashboard page (`signed_in`); an
investigator or a department head of a branch opens only their own pages
(`staff_signed_in`: "my tickets" and the department feedback of those tickets).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import abort, flash, g, redirect, render_template, request, session, url_for

from server.auth import ADMIN, HEAD_OFFICE, STAFF_ROLES, USER_ROLES
from server.dashboard.blueprint import bp
from server.dashboard.i18n import t
from server.dashboard.navigation import safe_next
from server.privacy import masked, sees_phones
from server.storage.accounts import end_sessions
from server.storage.db import get_db
from server.storage.models import UserRow
from server.throttle import Throttled, check_password

DASHBOARD_ROLES = (HEAD_OFFICE, ADMIN)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    display_name: str
    branch_id: int | None = None
    """An investigator's or department head's branch (None for head office and admin)."""
    staff_name: str = ""
    department: str = ""

    @property
    def sees_phone_numbers(self) -> bool:
        return sees_phones(self.role)

    @property
    def is_staff(self) -> bool:
        """An investigator or a department head: their own tickets only."""
        return self.role in STAFF_ROLES


def signed_in_user() -> User | None:
    """The signed-in user, if the session names an active user of a dashboard role (`USER_ROLES`)."""
    if "user" in g:
        return g.user
    user_id = session.get("user_id")
    found = None
    if isinstance(user_id, int):
        with get_db().read() as db:
            row = db.get(UserRow, user_id)
            if (
                row is not None
                and row.active
                and row.role in USER_ROLES
                and session.get("generation") == row.session_generation  # not signed out since
            ):
                name = row.display_name or row.staff_name or row.username
                if not sees_phones(row.role):  # a staff name may hold a number, as typed on the tickets
                    name = masked("text", name)
                found = User(
                    row.id, row.username, row.role, name, row.branch_id, row.staff_name, row.department
                )
    g.user = found
    return found


def current_user() -> User:
    user = signed_in_user()
    assert user is not None, "only called from views behind @signed_in"
    return user


def signed_in(view: F) -> F:
    """A head-office page: a visitor signs in first; an investigator or department head goes to their own
    tickets (403 for anything but a GET)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = signed_in_user()
        if user is None:
            return _to_signin()
        if user.role not in DASHBOARD_ROLES:
            if request.method != "GET":
                abort(403)
            return redirect(url_for("dashboard.mine"))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def staff_signed_in(view: F) -> F:
    """A page of one's own (my tickets): any signed-in user; a visitor signs in first."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if signed_in_user() is None:
            return _to_signin()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _to_signin() -> Any:
    if request.method != "GET":
        abort(401)
    flash(t("sign_in_needed"), "info")
    return redirect(url_for("dashboard.signin", next=request.full_path.rstrip("?")))


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> Any:
    error = ""
    status = 200
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        target = safe_next(request.form.get("next"))  # 400 before any password work for a bad one
        try:
            row = check_password(username, password) if username and password else None
        except Throttled as exc:
            error = t("signin_throttled", seconds=exc.retry_after)
            page = render_template("dashboard/signin.html", error=error, next=request.form.get("next", ""))
            return page, 429, {"Retry-After": str(exc.retry_after)}
        if row is not None and row.role in USER_ROLES:
            session.clear()  # a fresh session (and CSRF token) on sign-in: no session fixation
            session["user_id"] = row.id
            session["generation"] = row.session_generation
            return redirect(target)
        error, status = t("bad_credentials"), 401
    return render_template("dashboard/signin.html", error=error, next=request.values.get("next", "")), status


@bp.route("/signout", methods=["POST"])
def signout() -> Any:
    """Sign out here and everywhere: a copy of this session cookie no longer signs anyone in."""
    user = signed_in_user()
    if user is not None:
        with get_db().write() as db:
            end_sessions(db, user.id)
    session.clear()
    flash(t("signed_out"), "info")
    return redirect(url_for("dashboard.signin"))
