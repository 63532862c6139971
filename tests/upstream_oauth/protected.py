"""An OAuth-protected upstream MCP server for tests: streamable HTTP, accepting only JWT access
tokens issued by the authorization server `as.mjs` (npm `oidc-provider`) for this server (RFC
8707 audience), checked against the AS's published keys. Without a valid token it answers 401
with RFC 9728 protected-resource metadata, as the mcp SDK's bearer middleware does.

    python -m tests.upstream_oauth.protected --port P --issuer http://127.0.0.1:Q

Tools: `whoami` (the token's subject), `echo`, and `meet(n)`, which answers "met" once `n` of
its calls are in the server at the same time, or "alone" after MEET_S (so a client that sends
one call at a time never meets). Each request's token subject is appended to `--seen` (one line
per request), so tests can tell whose token a call carried.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import anyio
import httpx2
import uvicorn
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

SCOPE = "mcp:tools"
MEET_S = 20.0


class Meeting:
    """Calls of `meet` waiting for each other; a round ends when all its calls have left."""

    def __init__(self) -> None:
        self.waiting = 0
        self.everyone = anyio.Event()

    async def meet(self, n: int) -> str:
        everyone = self.everyone
        self.waiting += 1
        if self.waiting >= n:
            everyone.set()
        with anyio.move_on_after(MEET_S):
            await everyone.wait()
        self.waiting -= 1
        if self.waiting == 0 and everyone.is_set():
            self.everyone = anyio.Event()
        return "met" if everyone.is_set() else "alone"


class JwtVerifier:
    """Verifies RS256 JWT access tokens: signature (the AS's JWKS), issuer, audience, expiry."""

    def __init__(self, issuer: str, resource: str) -> None:
        self.issuer, self.resource = issuer, resource
        self._keys: KeySet | None = None
        self._claims = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": resource},
            exp={"essential": True},
            sub={"essential": True},
        )

    async def _jwks(self) -> KeySet:
        if self._keys is None:
            async with httpx2.AsyncClient() as http:
                meta = (await http.get(f"{self.issuer}/.well-known/openid-configuration")).json()
                self._keys = KeySet.import_key_set((await http.get(meta["jwks_uri"])).json())
        return self._keys

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            claims: dict[str, Any] = jwt.decode(token, await self._jwks()).claims
            self._claims.validate(claims)
        except (JoseError, ValueError):
            return None
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id", "")),
            scopes=str(claims.get("scope", "")).split(),
            expires_at=int(claims["exp"]),
            resource=self.resource,
            subject=str(claims["sub"]),
        )


def build(issuer: str, url: str, seen: Path | None) -> MCPServer:
    server = MCPServer(
        "protected",
        token_verifier=JwtVerifier(issuer, url),
        auth=AuthSettings(
            issuer_url=issuer,
            resource_server_url=url,
            required_scopes=[SCOPE],
            validate_token_resource=True,
        ),
    )

    def subject() -> str:
        token = get_access_token()
        who = token.subject if token is not None and token.subject else "?"
        if seen is not None:
            with seen.open("a") as out:
                out.write(who + "\n")
        return who

    @server.tool()
    def whoami() -> str:
        """The subject of the access token this call carried."""
        return subject()

    @server.tool()
    def echo(text: str) -> str:
        """Echo `text` back."""
        subject()
        return text

    meeting = Meeting()

    @server.tool()
    async def meet(n: int) -> str:
        """Wait until `n` calls of this tool are here at once: "met", or "alone" after 20 s."""
        subject()
        return await meeting.meet(n)

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--seen", type=Path)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{args.port}/mcp"
    app = build(args.issuer, url, args.seen).streamable_http_app()
    print(f"ready {url}", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
