"""CSRF tokens for the dashboard's forms and the security headers of every dashboard response.

CSRF: a random token kept in the signed session and sent back by every POST
form, compared in constant time. We use this small check instead of
Flask-WTF because the dashboard has only a handful of forms, needs no WTForms
form classes, and a global CSRFProtect would also guard the bearer-token API,
which must not need one.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Response, g, request, session

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def csrf_token() -> str:
    """The session's CSRF token, created on first use."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def csrf_ok() -> bool:
    """Whether this request carries the session's CSRF token (form field or header)."""
    expected = session.get(CSRF_FIELD)
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    return isinstance(expected, str) and hmac.compare_digest(expected.encode(), sent.encode())


def nonce() -> str:
    """A per-response nonce for the Content-Security-Policy (for any script or style we ever inline)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def add_headers(response: Response) -> Response:
    """Set the security headers: CSP without inline scripts, nosniff, no framing, no referrer leaks."""
    policy = (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce()}'; "
        f"style-src 'self' 'nonce-{nonce()}'; "
        "img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    return response
