"""The portal as an OAuth 2.1 authorization server for MCP clients, one per portal.

Each portal is its own issuer and its own protected resource (RFC 8707 / RFC 9728):

| portal reached by        | issuer                 | resource (its MCP URL)     |
|--------------------------|------------------------|----------------------------|
| its hostname, or `/mcp`  | `<origin>`             | `<origin>/mcp`             |
| `/p/<id>/mcp`            | `<origin>/p/<id>`      | `<origin>/p/<id>/mcp`      |

so the endpoints are `<issuer>/authorize`, `/token`, `/register`, `/revoke`, and the RFC 8414
metadata is at `/.well-known/oauth-authorization-server` followed by the issuer's path (and,
for clients that append instead of insert, at `<issuer>/.well-known/oauth-authorization-server`).

The handlers are the `mcp` SDK's (`create_auth_routes`: PKCE S256 verification, redirect URI
matching, client authentication, error shapes); this module is the thin wrapper that tells
them which portal a request is for (`AuthTarget`, in a context variable) and the provider
(`PortalAuthProvider`) that keeps everything in the store (`engine.store.grants`: codes and
tokens as SHA-256 digests, refresh rotation with reuse detection).

`/authorize` never issues a code itself: once the SDK has checked the client, its redirect URI
and scopes, the provider checks PKCE S256 and the `resource`, seals the request (signed,
10 minutes) and sends the browser to the consent page (`engine.server.signin`), which signs
the person in first when needed and issues the code on Allow.

`/register` is bounded: a body of at most `MAX_REGISTRATION_BYTES`, at most
`REGISTRATIONS_PER_MINUTE` per client address, redirect URIs that are https, http on
loopback, or a private-use scheme (never `javascript:`, `data:`, `file:`...).

It stays one module: the per-portal target, the provider over the store and the wrappers of
the SDK's endpoints are one authorization server, and a request's path through them (which
portal, which handler, which grant) reads best in one place.
"""

from __future__ import annotations

import contextvars
import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from mcp.server.auth.handlers.metadata import MetadataHandler
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    RegistrationError,
    TokenError,
)
from mcp.server.auth.routes import build_metadata, cors_middleware, create_auth_routes
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyHttpUrl, ConfigDict, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.portal import Portal
from engine.store import GrantError, Store

SCOPE: Final = "mcp"
"""The one scope a portal token carries: use this portal's MCP endpoint."""
AUTHORIZE_REQUEST_TTL_S: Final = 600
MAX_REGISTRATION_BYTES: Final = 16_384
MAX_AUTHORIZE_BYTES: Final = 16_384
REGISTRATIONS_PER_MINUTE: Final = 10
AS_METADATA: Final = "/.well-known/oauth-authorization-server"
PR_METADATA: Final = "/.well-known/oauth-protected-resource"
CONSENT_PATH: Final = "/auth/consent"
_FORBIDDEN_SCHEMES: Final = frozenset({"javascript", "data", "file", "vbscript", "blob", "about"})
_URL = TypeAdapter(AnyHttpUrl, config=ConfigDict(url_preserve_empty_path=True))

Resolve = Callable[[str, str | None], "Portal | Response"]


@dataclass(frozen=True)
class AuthTarget:
    """The portal a request is for, and the URLs naming it as issuer and resource."""

    portal: Portal
    origin: str
    """`scheme://host[:port]` as the request named it, lower-cased."""
    prefix: str
    """`""` (hostname or plain `/mcp`) or `/p/<id>`."""

    @property
    def issuer(self) -> str:
        return self.origin + self.prefix

    @property
    def resource(self) -> str:
        return f"{self.origin}{self.prefix}/mcp"

    @property
    def resource_metadata_url(self) -> str:
        return f"{self.origin}{PR_METADATA}{self.prefix}/mcp"


def request_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}".lower()


_TARGET: contextvars.ContextVar[tuple[AuthTarget, Mapping[str, str]]] = contextvars.ContextVar(
    "codemode_auth_target"
)


def sealer(store: Store) -> URLSafeTimedSerializer:
    """Signs the pending authorization requests handed from /authorize to the consent page."""
    return URLSafeTimedSerializer(store.cookie_key(), salt="codemode.authorize-request")


@dataclass(frozen=True)
class PendingAuthorization:
    """An /authorize request the SDK validated, waiting for the person's consent."""

    portal_id: str
    issuer: str
    resource: str
    client_id: str
    redirect_uri: str
    redirect_uri_provided_explicitly: bool
    state: str | None
    scopes: list[str]
    code_challenge: str

    def seal(self, store: Store) -> str:
        return str(sealer(store).dumps(self.__dict__))

    @classmethod
    def unseal(cls, store: Store, sealed: str) -> PendingAuthorization | None:
        """The request, or None when forged, altered or older than 10 minutes."""
        try:
            data = sealer(store).loads(sealed, max_age=AUTHORIZE_REQUEST_TTL_S)
            return cls(**data)
        except (BadSignature, TypeError, ValueError):
            return None

    def redirect(self, **params: str | None) -> str:
        """The client's redirect URI with `params`, `state` and `iss` (RFC 9207) added."""
        parts = urlsplit(self.redirect_uri)
        query = [(k, v) for k, v in params.items() if v is not None]
        if self.state is not None:
            query.append(("state", self.state))
        query.append(("iss", self.issuer))
        joined = "&".join(p for p in (parts.query, urlencode(query)) if p)
        return parts._replace(query=joined, fragment="").geturl()


CONSENTED_PATH: Final = "/auth/consent/finish"
"""Where the sign-in's last step (the server selection page) finishes the authorization."""


def _consented_sealer(store: Store) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(store.cookie_key(), salt="codemode.consented-authorization")


def seal_consented(store: Store, request: str, person_id: int) -> str:
    """The sealed /authorize `request` the person allowed, bound to them: the server
    selection page carries it to `CONSENTED_PATH`, which issues the code."""
    return str(_consented_sealer(store).dumps({"request": request, "person": person_id}))


def unseal_consented(store: Store, sealed: str, person_id: int) -> PendingAuthorization | None:
    """The request `person_id` allowed; None when forged, expired or another person's."""
    try:
        data = _consented_sealer(store).loads(sealed, max_age=AUTHORIZE_REQUEST_TTL_S)
    except (BadSignature, TypeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("person") != person_id:
        return None
    return PendingAuthorization.unseal(store, str(data.get("request", "")))


def redirect_uri_problem(uri: str) -> str | None:
    """Why a client may not register `uri` as a redirect URI (None: it may)."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if parts.fragment:
        return "a redirect URI has no fragment"
    if scheme == "https":
        return None if parts.hostname else "an https redirect URI names a host"
    if scheme == "http":
        host = (parts.hostname or "").lower()
        if host == "localhost":
            return None
        try:
            if ipaddress.ip_address(host).is_loopback:
                return None
        except ValueError:
            pass
        return "an http redirect URI must be on loopback (127.0.0.1, [::1], localhost)"
    if not scheme or scheme in _FORBIDDEN_SCHEMES:
        return f"the scheme {scheme or '(none)'!r} is not allowed in a redirect URI"
    return None  # a native app's private-use scheme (RFC 8252 §7.1)


class PortalAuthProvider:
    """`OAuthAuthorizationServerProvider` over the store, for the portal of the request."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def _target() -> tuple[AuthTarget, Mapping[str, str]]:
        return _TARGET.get()

    # -- clients ------------------------------------------------------------------------------

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        record = await self.store.grants.get_client(client_id)
        if record is None:
            return None
        try:
            return OAuthClientInformationFull.model_validate(
                {**record.metadata, "client_id": client_id, "client_secret": record.client_secret}
            )
        except ValidationError:
            return None

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        for uri in client_info.redirect_uris or []:
            problem = redirect_uri_problem(str(uri))
            if problem is not None:
                raise RegistrationError("invalid_redirect_uri", problem)
        metadata = client_info.model_dump(mode="json", exclude_none=True, exclude={"client_secret"})
        try:
            await self.store.grants.register_client(
                str(client_info.client_id), metadata, client_secret=client_info.client_secret
            )
        except GrantError as exc:
            raise RegistrationError("invalid_client_metadata", str(exc)) from None

    # -- authorization ------------------------------------------------------------------------

    async def authorize(
        self, client: OAuthClientInformationFull, params: AuthorizationParams
    ) -> str:
        target, sent = self._target()
        # The SDK defaults a missing method to S256; OAuth 2.1 clients must say it.
        if sent.get("code_challenge_method") != "S256":
            raise AuthorizeError("invalid_request", "PKCE is required: code_challenge_method=S256")
        if params.resource is not None and params.resource.rstrip("/") != target.resource:
            raise AuthorizeError(
                "invalid_target", f"this authorization server issues tokens for {target.resource}"
            )
        pending = PendingAuthorization(
            portal_id=target.portal.id,
            issuer=target.issuer,
            resource=target.resource,
            client_id=str(client.client_id),
            redirect_uri=str(params.redirect_uri),
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            state=params.state,
            scopes=params.scopes or [SCOPE],
            code_challenge=params.code_challenge,
        )
        return f"{target.origin}{CONSENT_PATH}?{urlencode({'request': pending.seal(self.store)})}"

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        target, _ = self._target()
        code = await self.store.grants.load_authorization_code(
            authorization_code, str(client.client_id)
        )
        if code is None or code.resource != target.resource:
            return None
        return AuthorizationCode(
            code=authorization_code,
            scopes=code.scopes,
            expires_at=code.expires_at.timestamp(),
            client_id=code.client_id,
            code_challenge=code.code_challenge,
            redirect_uri=code.redirect_uri,  # type: ignore[arg-type]  # validated as AnyUrl
            redirect_uri_provided_explicitly=code.redirect_uri_provided_explicitly,
            resource=code.resource,
            subject=str(code.person_id),
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        pair = await self.store.grants.exchange_authorization_code(
            authorization_code.code, str(client.client_id)
        )
        if pair is None:
            raise TokenError("invalid_grant", "authorization code is not valid")
        return self._tokens(pair.access_token, pair.refresh_token, pair.scopes)

    def _tokens(self, access: str, refresh: str, scopes: list[str]) -> OAuthToken:
        return OAuthToken(
            access_token=access,
            expires_in=int(self.store.grants.access_ttl.total_seconds()),
            refresh_token=refresh,
            scope=" ".join(scopes),
        )

    # -- refresh, access, revocation ------------------------------------------------------------

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> RefreshToken | None:
        target, _ = self._target()
        info = await self.store.grants.load_refresh_token(refresh_token, str(client.client_id))
        if info is None or info.resource != target.resource:
            return None
        return RefreshToken(
            token=refresh_token,
            client_id=info.client_id,
            scopes=info.scopes,
            expires_at=int(info.expires_at.timestamp()),
            resource=info.resource,
            subject=str(info.person_id),
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        try:
            pair = await self.store.grants.rotate_refresh_token(
                refresh_token.token, str(client.client_id), scopes
            )
        except GrantError:
            raise TokenError("invalid_scope", "scope not granted to this refresh token") from None
        if pair is None:
            raise TokenError("invalid_grant", "refresh token is not valid")
        return self._tokens(pair.access_token, pair.refresh_token, pair.scopes)

    async def load_access_token(self, token: str) -> AccessToken | None:
        info = await self.store.grants.verify_access_token(token)
        if info is None:
            return None
        return AccessToken(
            token=token,
            client_id=info.client_id,
            scopes=info.scopes,
            expires_at=int(info.expires_at.timestamp()),
            resource=info.resource,
            subject=str(info.person_id),
        )

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        await self.store.grants.revoke_token(token.token)

    async def exchange_identity_assertion(self, client: Any, params: Any) -> OAuthToken:
        raise TokenError("unsupported_grant_type", "identity assertions are not accepted here")


class RateLimit:
    """At most `limit` events per `window_s` per key (sliding window), over at most
    `max_keys` keys (the least recently seen are forgotten)."""

    def __init__(self, limit: int, window_s: float = 60.0, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        events = self._events.pop(key, None) or deque()
        while events and now - events[0] > self.window_s:
            events.popleft()
        allowed = len(events) < self.limit
        if allowed:
            events.append(now)
        self._events[key] = events
        while len(self._events) > self.max_keys:
            self._events.popitem(last=False)
        return allowed


def _json_error(status: int, error: str, description: str) -> Response:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


class BoundedRegistration:
    """ASGI wrapper of `/register`: rate limit per client address, then a body of at most
    `MAX_REGISTRATION_BYTES` (413 past it, read no further), replayed to the SDK handler."""

    def __init__(self, app: ASGIApp, limit: RateLimit) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        if not self.limit.allow(address):
            response = _json_error(
                429, "slow_down", "too many registrations from this address; try again later"
            )
            response.headers["Retry-After"] = str(int(self.limit.window_s))
            await response(scope, receive, send)
            return
        too_large = _json_error(
            413,
            "invalid_client_metadata",
            f"a registration request is at most {MAX_REGISTRATION_BYTES} bytes",
        )
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (
            not declared.isdigit() or int(declared) > MAX_REGISTRATION_BYTES
        ):
            await too_large(scope, receive, send)
            return
        body = await _read_bounded(receive, MAX_REGISTRATION_BYTES)
        if body is None:
            await too_large(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


MAX_REVOCATION_BYTES = 8 * 1024
"""A revocation request is a token and a client id: a few hundred bytes."""


class PublicClientRevocation:
    """ASGI wrapper of `/revoke` that lets a public client revoke its own token with its
    `client_id` alone, as RFC 7009 allows.

    The SDK authenticates the client first (a public client, `token_endpoint_auth_method =
    "none"`, needs no secret there), but then its request model requires a `client_secret`
    field to be present, so a public client's request is refused with 400. An absent field is
    sent on as an empty one: authentication has already been decided by then, and for a
    confidential client an empty secret is the same refusal as a missing one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await _read_bounded(receive, MAX_REVOCATION_BYTES)
        if body is None:
            too_large = _json_error(400, "invalid_request", "the revocation request is too large")
            await too_large(scope, receive, send)
            return
        fields = {key for key, _ in parse_qsl(body.decode("latin-1"), keep_blank_values=True)}
        if "client_secret" not in fields:
            body += b"&client_secret=" if body else b"client_secret="
        await self.app(scope, _replay(body, receive), send)


class AuthServer:
    """The SDK's authorization-server endpoints for every portal, behind one wrapper that
    finds the portal (by Host, or `/p/<id>`), names it in `_TARGET`, and calls the SDK's
    handler."""

    def __init__(self, store: Store, resolve: Resolve) -> None:
        self.store = store
        self.resolve = resolve
        self.provider = PortalAuthProvider(store)
        self.registration = ClientRegistrationOptions(
            enabled=True, valid_scopes=[SCOPE], default_scopes=[SCOPE]
        )
        self.revocation = RevocationOptions(enabled=True)
        routes = create_auth_routes(
            self.provider,
            issuer_url=_URL.validate_python("http://localhost"),  # metadata: built per portal
            client_registration_options=self.registration,
            revocation_options=self.revocation,
        )
        apps = {r.path: r.app for r in routes if isinstance(r, Route)}
        self.endpoints: dict[str, ASGIApp] = {
            "authorize": apps["/authorize"],
            "token": apps["/token"],
            "register": BoundedRegistration(apps["/register"], RateLimit(REGISTRATIONS_PER_MINUTE)),
            "revoke": PublicClientRevocation(apps["/revoke"]),
        }

    def target(self, request: Request, portal_id: str | None) -> AuthTarget | Response:
        portal = self.resolve(request.headers.get("host", ""), portal_id)
        if isinstance(portal, Response):
            return portal
        prefix = "" if portal_id is None else f"/p/{portal.id}"
        return AuthTarget(portal, request_origin(request), prefix)

    def metadata(self, target: AuthTarget) -> MetadataHandler:
        """RFC 8414 metadata naming the portal's issuer and its endpoints."""
        document = build_metadata(
            _URL.validate_python(target.issuer), None, self.registration, self.revocation
        )
        document.authorization_response_iss_parameter_supported = True
        return MetadataHandler(document)

    def protected_resource(self, target: AuthTarget) -> dict[str, Any]:
        """RFC 9728 metadata of the portal's MCP endpoint, naming its own issuer."""
        return {
            "resource": target.resource,
            "authorization_servers": [target.issuer],
            "scopes_supported": [SCOPE],
            "bearer_methods_supported": ["header"],
            "resource_name": target.portal.config.name or target.portal.id,
        }

    def routes(self) -> list[BaseRoute]:
        methods = {
            "authorize": ["GET", "POST"],
            "token": ["POST", "OPTIONS"],
            "register": ["POST", "OPTIONS"],
            "revoke": ["POST", "OPTIONS"],
        }
        routes: list[BaseRoute] = []
        for name, allowed in methods.items():
            app = _PortalEndpoint(self, self.endpoints[name])
            routes.append(Route(f"/{name}", app, methods=allowed))
            routes.append(Route(f"/p/{{portal_id}}/{name}", app, methods=allowed))
        metadata = _PortalEndpoint(self, None)
        get = ["GET", "OPTIONS"]
        routes += [
            Route(AS_METADATA, metadata, methods=get),
            Route(AS_METADATA + "/p/{portal_id}", metadata, methods=get),
            Route("/p/{portal_id}" + AS_METADATA, metadata, methods=get),
        ]
        return routes


class _PortalEndpoint:
    """One SDK endpoint (or, for `inner=None`, the RFC 8414 metadata) for the portal the
    request names. A class, not a function, so Starlette routes to it as an ASGI app."""

    def __init__(self, server: AuthServer, inner: ASGIApp | None) -> None:
        self.server = server
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        target = self.server.target(request, request.path_params.get("portal_id"))
        if isinstance(target, Response):
            await target(scope, receive, send)
            return
        if self.inner is None:
            handler = self.server.metadata(target)
            await cors_middleware(handler.handle, ["GET", "OPTIONS"])(scope, receive, send)
            return
        sent: dict[str, str] = dict(request.query_params)
        if request.method == "POST" and scope["path"].endswith("/authorize"):
            body = await _read_bounded(receive, MAX_AUTHORIZE_BYTES)
            if body is None:
                await _json_error(413, "invalid_request", "request too large")(scope, receive, send)
                return
            sent = dict(parse_qsl(body.decode("utf-8", "replace")))
            receive = _replay(body, receive)
        token = _TARGET.set((target, sent))
        try:
            await self.inner(scope, receive, send)
        finally:
            _TARGET.reset(token)


async def _read_bounded(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None past `limit` bytes (read no further)."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body)
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
