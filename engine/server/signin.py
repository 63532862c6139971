"""People in the browser: sign-in through the organisation's OpenID Connect provider (or the
built-in `dev` sign-in), the consent page of the portal's authorization server, sign-out.

| route                      | what                                                          |
|----------------------------|---------------------------------------------------------------|
| `GET /auth/login?next=`    | to the provider (authlib: state, nonce, PKCE S256), or /auth/dev |
| `GET /auth/callback`       | back from the provider: ID token checked, userinfo read when  |
|                            | it lacks email or groups, `people.sign_in`, session started   |
| `GET,POST /auth/dev`       | `provider = "dev"` only, loopback only: any email, no password|
| `GET,POST /auth/consent`   | the consent page of a sealed /authorize request; Allow issues |
|                            | the code, Deny (or no access) sends `error=access_denied`;    |
|                            | with on_behalf servers to connect, Allow goes to the server   |
|                            | selection page first (`/connections?signin=`)                 |
| `POST /auth/consent/finish`| CSRF-checked: Done on that page, issues the code              |
| `POST /auth/logout`        | CSRF-checked: revoke every grant of the person, end the       |
|                            | session, RP-initiated logout when the provider offers it      |
| `GET /signed-out`          | what sign-out revoked                                         |

Two fixed redirect paths are registered at the provider: `<origin>/auth/callback` and (post
logout) `<origin>/signed-out`. A `/p/<id>` portal uses the origin's: where the person was going
(`next`, which names the portal) rides in the session across the round trip.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from authlib.integrations.starlette_client import OAuth, OAuthError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.config import IdentityConfig
from engine.gateway import Gateway
from engine.person_sessions import CONNECTIONS_PATH
from engine.server.connections import disconnect_all, person_connections
from engine.server.homepage import page_response
from engine.server.oauth import (
    CONSENT_PATH,
    CONSENTED_PATH,
    PendingAuthorization,
    Resolve,
    request_origin,
    seal_consented,
    unseal_consented,
)
from engine.server.sessions import (
    CSRF_FIELD,
    SignedIn,
    csrf_ok,
    csrf_token,
    safe_next,
    signed_in,
    start_session,
)
from engine.store import GrantError, Store

CALLBACK_PATH: Final = "/auth/callback"
SIGNED_OUT_PATH: Final = "/signed-out"
DEV_ISSUER: Final = "codemode:dev"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^[^@\s]+@localhost$")
log = logging.getLogger(__name__)


class IdentityError(Exception):
    """`[identity]` cannot be used as configured (e.g. its client secret is missing)."""


def client_secret(identity: IdentityConfig, environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    if identity.client_secret_env is not None:
        value = env.get(identity.client_secret_env)
        if not value:
            raise IdentityError(
                f"[identity] client_secret_env names {identity.client_secret_env}, which is not "
                "set in the environment"
            )
        return value
    if identity.client_secret_file is not None:
        try:
            return Path(identity.client_secret_file).read_text().strip()
        except OSError as exc:
            raise IdentityError(
                f"[identity] client_secret_file {identity.client_secret_file}: {exc.strerror}"
            ) from None
    return None  # a public client (PKCE only)


def _groups(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(g for g in value.split() if g)
    if isinstance(value, list | tuple):
        return tuple(str(g) for g in value)
    return ()


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin_of(uri: str) -> str:
    """A CSP source for the origin of `uri` (`scheme:` for a private-use scheme)."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:"


class IdentityWeb:
    """The browser side of identity for one gateway."""

    def __init__(self, gateway: Gateway, store: Store, resolve: Resolve) -> None:
        identity = gateway.config.identity
        assert identity is not None
        self.gateway = gateway
        self.store = store
        self.resolve = resolve
        self.idp: Any = None
        if identity.provider == "oidc":
            assert identity.issuer is not None
            oauth = OAuth()
            self.idp = oauth.register(
                "idp",
                client_id=identity.client_id,
                client_secret=client_secret(identity),
                server_metadata_url=identity.issuer.rstrip("/")
                + "/.well-known/openid-configuration",
                client_kwargs={
                    "scope": " ".join(identity.scopes),
                    "code_challenge_method": "S256",
                    "timeout": 10,
                },
            )

    @property
    def identity(self) -> IdentityConfig:
        """`[identity]` as it runs now: a reload changes its scopes, groups claim and
        no-access message (`engine.reload`); the provider and client stay as they started."""
        identity = self.gateway.config.identity
        assert identity is not None
        return identity

    @property
    def issuer(self) -> str:
        return self.identity.issuer or DEV_ISSUER

    def form_sources(self) -> list[str]:
        """Where a sign-out form may lead (CSP form-action): here, and the provider's logout."""
        return ["'self'"] + ([_origin_of(self.identity.issuer)] if self.identity.issuer else [])

    # -- pages --------------------------------------------------------------------------------

    def _message(
        self,
        request: Request,
        title: str,
        message: str,
        status: int,
        link: dict[str, str] | None = None,
    ) -> Response:
        context = {"title": title, "message": message, "link": link}
        return page_response(request, "message.html", context, status)

    # -- sign-in ------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        if self.idp is None:
            return RedirectResponse(f"/auth/dev?{urlencode({'next': target})}", status_code=303)
        request.session["next"] = target
        callback = request_origin(request) + CALLBACK_PATH
        try:
            response: Response = await self.idp.authorize_redirect(
                request, callback, scope=" ".join(self.identity.scopes)
            )
        except Exception as exc:  # discovery failed: the provider is down or misconfigured
            log.warning("sign-in: the identity provider's metadata could not be read: %s", exc)
            return self._message(
                request,
                "Sign-in is unavailable",
                "The identity provider could not be reached. Try again later.",
                502,
            )
        return response

    async def callback(self, request: Request) -> Response:
        if self.idp is None:
            return self._message(request, "Not found", "No sign-in provider here.", 404)
        try:
            token = await self.idp.authorize_access_token(request)
        except OAuthError as exc:
            # The error code only: descriptions may echo what the provider was sent.
            return self._message(
                request,
                "Sign-in failed",
                f"The sign-in did not complete ({exc.error or 'error'}). Start again from the "
                "portal's homepage.",
                400,
                {"href": "/", "text": "Back to the portal"},
            )
        except Exception as exc:
            log.warning("sign-in: token exchange with the identity provider failed: %s", type(exc))
            return self._message(
                request, "Sign-in failed", "The identity provider did not answer. Try again.", 502
            )
        claims: dict[str, Any] = dict(token.get("userinfo") or {})
        claim = self.identity.groups_claim
        if not claims.get("email") or claim not in claims:
            try:
                extra = await self.idp.userinfo(token=token)
            except Exception as exc:
                log.warning("sign-in: userinfo could not be read: %s", type(exc))
                extra = {}
            if extra.get("sub") in (None, claims.get("sub")):
                claims = {**extra, **{k: v for k, v in claims.items() if v is not None}}
        email = claims.get("email")
        sub = claims.get("sub")
        if not isinstance(email, str) or not email or not isinstance(sub, str):
            return self._message(
                request,
                "Sign-in failed",
                "The identity provider gave no email address. Ask your administrator to add "
                "the email scope to [identity] scopes.",
                400,
            )
        name = claims.get("name")
        return await self._signed_in(
            request, sub, email, _groups(claims.get(claim)), name if isinstance(name, str) else None
        )

    async def _signed_in(
        self, request: Request, sub: str, email: str, groups: tuple[str, ...], name: str | None
    ) -> Response:
        person = await self.store.people.sign_in(
            self.issuer, sub, email=email, name=name, groups=groups
        )
        start_session(request, person.id, person.email or email.lower(), person.groups)
        target = safe_next(request.session.pop("next", None))
        return RedirectResponse(target, status_code=303)

    async def dev(self, request: Request) -> Response:
        if self.idp is not None or not _is_loopback(request.client and request.client.host):
            return self._message(request, "Not found", "No development sign-in here.", 404)
        if request.method == "GET":
            return self._dev_page(request, safe_next(request.query_params.get("next")), None)
        form = await request.form()
        target = safe_next(str(form.get("next", "/")))
        if not csrf_ok(request, form.get(CSRF_FIELD)):
            return self._dev_page(request, target, "The form expired; sign in again.", 403)
        email = str(form.get("email", "")).strip().lower()
        if not _EMAIL.match(email) or len(email) > 320:
            return self._dev_page(request, target, "Give an email address.", 400)
        groups = tuple(g.strip() for g in str(form.get("groups", "")).split(",") if g.strip())
        request.session["next"] = target
        return await self._signed_in(request, email, email, groups, None)

    def _dev_page(
        self, request: Request, target: str, error: str | None, status: int = 200
    ) -> Response:
        context = {"next": target, "csrf": csrf_token(request), "error": error}
        return page_response(request, "dev_signin.html", context, status, form_action=["'self'"])

    # -- consent ------------------------------------------------------------------------------

    async def consent(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._decide(request)
        sealed = request.query_params.get("request", "")
        pending = PendingAuthorization.unseal(self.store, sealed)
        if pending is None:
            return self._message(
                request,
                "This request has expired",
                "Start connecting again from your application.",
                400,
            )
        person = signed_in(request)
        if person is None:
            here = f"{CONSENT_PATH}?{urlencode({'request': sealed})}"
            return RedirectResponse(f"/auth/login?{urlencode({'next': here})}", status_code=303)
        portal = self.gateway.portals.get(pending.portal_id)
        client = await self.store.grants.get_client(pending.client_id)
        if portal is None or client is None:
            return self._message(request, "Unknown application", "Start connecting again.", 400)
        access = portal.access(person.principal)
        if access is None or not access.allowed:
            return self._no_access(request, pending)
        names = {s.id: s.name or s.id for s in self.gateway.config.servers}
        context = {
            "portal_name": portal.config.name or portal.id,
            "client_name": client.client_name or client.client_id,
            "redirect_host": urlsplit(pending.redirect_uri).netloc
            or urlsplit(pending.redirect_uri).scheme + ":",
            "email": person.email,
            "servers": [{"id": s, "name": names.get(s, s)} for s in access.servers],
            "refusal": access.refusal(),
            "request_token": sealed,
            "csrf": csrf_token(request),
        }
        return page_response(
            request,
            "consent.html",
            context,
            200,
            form_action=["'self'", _origin_of(pending.redirect_uri)],
        )

    def _no_access(self, request: Request, pending: PendingAuthorization) -> Response:
        back = pending.redirect(
            error="access_denied", error_description="the portal's policies do not let you in"
        )
        return self._message(
            request,
            "No access",
            self.identity.no_access_message,
            403,
            {"href": back, "text": "Return to the application"},
        )

    async def _decide(self, request: Request) -> Response:
        form = await request.form()
        person = signed_in(request)
        if person is None or not csrf_ok(request, form.get(CSRF_FIELD)):
            return self._message(
                request, "Refused", "The form expired or did not come from this portal.", 403
            )
        pending = PendingAuthorization.unseal(self.store, str(form.get("request", "")))
        if pending is None:
            return self._message(
                request, "This request has expired", "Start connecting again.", 400
            )
        portal = self.gateway.portals.get(pending.portal_id)
        access = None if portal is None else portal.access(person.principal)
        if access is None or not access.allowed:
            return RedirectResponse(
                pending.redirect(error="access_denied", error_description="no access"), 303
            )
        if form.get("decision") != "allow":
            return RedirectResponse(
                pending.redirect(error="access_denied", error_description="the person declined"),
                303,
            )
        assert portal is not None
        servers = await person_connections(
            self.store.upstream_tokens, portal, person.principal, person.person_id
        )
        if any(s.state != "connected" for s in servers):
            # The last step: connect the servers acting with their own account, then Done.
            sealed = seal_consented(self.store, str(form.get("request", "")), person.person_id)
            query = urlencode({"portal": portal.id, "signin": sealed})
            return RedirectResponse(f"{CONNECTIONS_PATH}?{query}", 303)
        return await self._issue(request, pending, person)

    async def finish(self, request: Request) -> Response:
        """Done on the server selection page that ends a sign-in: the code, at last."""
        form = await request.form()
        person = signed_in(request)
        if person is None or not csrf_ok(request, form.get(CSRF_FIELD)):
            return self._message(
                request, "Refused", "The form expired or did not come from this portal.", 403
            )
        pending = unseal_consented(self.store, str(form.get("signin", "")), person.person_id)
        if pending is None:
            return self._message(
                request, "This request has expired", "Start connecting again.", 400
            )
        portal = self.gateway.portals.get(pending.portal_id)
        access = None if portal is None else portal.access(person.principal)
        if access is None or not access.allowed:
            return RedirectResponse(
                pending.redirect(error="access_denied", error_description="no access"), 303
            )
        return await self._issue(request, pending, person)

    async def _issue(
        self, request: Request, pending: PendingAuthorization, person: SignedIn
    ) -> Response:
        try:
            issued = await self.store.grants.save_authorization_code(
                client_id=pending.client_id,
                person_id=person.person_id,
                resource=pending.resource,
                scopes=pending.scopes,
                redirect_uri=pending.redirect_uri,
                redirect_uri_provided_explicitly=pending.redirect_uri_provided_explicitly,
                code_challenge=pending.code_challenge,
            )
        except GrantError:  # the client (or the person) was removed meanwhile
            return self._message(request, "Unknown application", "Start connecting again.", 400)
        return RedirectResponse(pending.redirect(code=issued.code), 303)

    # -- sign-out -----------------------------------------------------------------------------

    async def logout(self, request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form.get(CSRF_FIELD)):
            return self._message(
                request, "Refused", "Sign out from the portal's homepage (the form expired).", 403
            )
        person = signed_in(request)
        request.session.clear()
        if person is not None:
            # Revoked at the upstreams first: revoke_person deletes what is left of the rows.
            servers = await disconnect_all(
                self.gateway, self.store.upstream_tokens, person.person_id
            )
            summary = await self.store.grants.revoke_person(person.person_id)
            summary = replace(summary, upstream_states_removed=len(servers))
            request.session["signed_out"] = {
                "email": person.email,
                "summary": summary.describe(),
                "servers": servers,
            }
        if self.idp is not None:
            try:
                metadata = await self.idp.load_server_metadata()
            except Exception:
                metadata = {}
            if metadata.get("end_session_endpoint"):
                response: Response = await self.idp.logout_redirect(
                    request,
                    post_logout_redirect_uri=request_origin(request) + SIGNED_OUT_PATH,
                    client_id=self.identity.client_id,
                )
                response.status_code = 303
                return response
        return RedirectResponse(SIGNED_OUT_PATH, status_code=303)

    async def signed_out(self, request: Request) -> Response:
        if self.idp is not None and request.query_params.get("state"):
            with contextlib.suppress(OAuthError):  # drop the logout state authlib kept
                await self.idp.validate_logout_response(request)
        done = request.session.pop("signed_out", None)
        if isinstance(done, dict) and done.get("email"):
            message = f"Signed out {done['email']} — {done.get('summary', '')}."
            if done.get("servers"):
                message += f" Disconnected servers: {', '.join(map(str, done['servers']))}."
        else:
            message = "You are signed out."
        return self._message(
            request, "Signed out", message, 200, {"href": "/", "text": "Back to the portal"}
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/auth/login", self.login, methods=["GET"]),
            Route(CALLBACK_PATH, self.callback, methods=["GET"]),
            Route("/auth/dev", self.dev, methods=["GET", "POST"]),
            Route(CONSENT_PATH, self.consent, methods=["GET", "POST"]),
            Route(CONSENTED_PATH, self.finish, methods=["POST"]),
            Route("/auth/logout", self.logout, methods=["POST"]),
            Route(SIGNED_OUT_PATH, self.signed_out, methods=["GET"]),
        ]
