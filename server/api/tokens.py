"""POST /api/tokens: a head-office user trades a password (HTTP basic auth) for an API token."""

from __future__ import annotations

from typing import Any

from flask import request

from server import clock
from server.api.blueprint import ApiBlueprint
from server.api.schemas import ErrorEnvelope, TokenResponse
from server.auth import STAFF_ROLES, issue_token
from server.errors import ApiError
from server.storage.db import get_db
from server.throttle import check_password

blp = ApiBlueprint("tokens", __name__, url_prefix="/api", description="Head-office sign-in")


@blp.route("/tokens", methods=["POST"])
@blp.response(201, TokenResponse)
@blp.alt_response(429, schema=ErrorEnvelope, description="too many wrong passwords: wait Retry-After seconds")
@blp.doc(security=[{"basic": []}])
def create_token() -> Any:
    """Issue a token for a head-office user; the token is shown once."""
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username or auth.password is None:
        raise ApiError(401, "unauthorized", "sign in with HTTP basic auth (user name and password)")
    user = check_password(auth.username, auth.password)
    if user is None:
        raise ApiError(401, "unauthorized", "unknown user or wrong password")
    if user.role in STAFF_ROLES:  # their own tickets are on the dashboard; the branch token is for devices
        raise ApiError(403, "forbidden", "investigators and department heads sign in to the dashboard")
    with get_db().write() as session:
        _, plain = issue_token(session, user.role, clock.now(), user=user, label="api sign-in")
        return {"token": plain, "role": user.role}
