"""The browser session of a signed-in person (Starlette's `SessionMiddleware`: a cookie
signed with the store's cookie key, itsdangerous) and the CSRF token bound to it.

The cookie is `HttpOnly`, `SameSite=Lax`, and `Secure` when the request came over https (the
portal's public URL is https), so it is one of two middleware instances by scheme. It holds
the person's store id, email and groups, the CSRF token, and for the length of a sign-in the
OpenID Connect state (authlib's: state, nonce, PKCE verifier) and where to go next; never a
portal token, code or client secret.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Final

from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.auth import Principal

SESSION_COOKIE: Final = "codemode_session"
SESSION_MAX_AGE_S: Final = 8 * 3600
CSRF_FIELD: Final = "csrf"


class SchemeSessions:
    """`SessionMiddleware` whose cookie is `Secure` on https requests."""

    def __init__(self, app: ASGIApp, secret_key: str) -> None:
        options: dict[str, Any] = {
            "secret_key": secret_key,
            "session_cookie": SESSION_COOKIE,
            "max_age": SESSION_MAX_AGE_S,
            "same_site": "lax",
        }
        self.plain = SessionMiddleware(app, https_only=False, **options)
        self.secure = SessionMiddleware(app, https_only=True, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("scheme") in ("https", "wss"):
            await self.secure(scope, receive, send)
        else:
            await self.plain(scope, receive, send)


@dataclass(frozen=True)
class SignedIn:
    """The person of a browser session."""

    person_id: int
    email: str
    groups: tuple[str, ...]

    @property
    def principal(self) -> Principal:
        return Principal.person(self.email, self.groups, self.person_id)


def _session(conn: HTTPConnection) -> dict[str, Any] | None:
    return conn.session if "session" in conn.scope else None


def signed_in(conn: HTTPConnection) -> SignedIn | None:
    session = _session(conn)
    if not session:
        return None
    person = session.get("person")
    if not isinstance(person, dict):
        return None
    try:
        return SignedIn(int(person["id"]), str(person["email"]), tuple(person.get("groups", ())))
    except (KeyError, TypeError, ValueError):
        return None


def start_session(request: Request, person_id: int, email: str, groups: tuple[str, ...]) -> None:
    """A fresh session for a person who just signed in (nothing of the one before is kept
    but where they were going)."""
    session = request.session
    keep = {k: session[k] for k in ("next",) if k in session}
    session.clear()
    session.update(keep)
    session["person"] = {"id": person_id, "email": email, "groups": list(groups)}
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created with the session)."""
    session = request.session
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def csrf_ok(request: Request, sent: object) -> bool:
    expected = _session(request) and request.session.get(CSRF_FIELD)
    return (
        isinstance(expected, str)
        and isinstance(sent, str)
        and hmac.compare_digest(expected.encode(), sent.encode())
    )


def safe_next(value: str | None, default: str = "/") -> str:
    """A path on this origin to go to after sign-in; anything else (another origin, `//host`,
    a backslash trick) is `default`."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x20 for c in value)
    ):
        return default
    return value
