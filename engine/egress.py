"""Egress through an inspecting forward proxy: which servers go through it, and how.

A `[[servers]]` entry or a `[[portals]]` entry with `secure_web_gateway = true` sends the HTTP
traffic of the server(s) concerned through `[settings] egress_proxy`, so that an organisation's
gateway sees and logs what leaves. The portal we model decides this per portal; we hold one
connection per server, shared by every portal that lists it, so a server goes through the proxy
when the server says so or any portal listing it does: a portal that asks for inspection gets
it, and a portal that does not ask loses nothing (its traffic is only inspected as well).

```python
routes = egress_routes(config)                   # {"github": EgressProxy(...)} for routed ids
httpx2.AsyncClient(**client_options(routes.get("github")))
```
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TypedDict

import httpcore2
import httpx2

from engine.config import Config
from engine.credentials import CredentialError
from engine.status import ErrorDetails


@dataclass(frozen=True)
class EgressProxy:
    """The forward proxy a server's HTTP goes through, and the CAs it may re-sign TLS with."""

    url: str
    ca_file: str | None = None


def routed_server_ids(config: Config) -> set[str]:
    """Ids of the servers whose HTTP goes through the proxy (own flag, or a listing portal's)."""
    ids = {s.id for s in config.servers if s.secure_web_gateway}
    for portal in config.portals:
        if portal.secure_web_gateway:
            ids.update(ref.server_id for ref in portal.servers)
    # A stdio server has no HTTP; a portal's flag leaves it as it is.
    return ids & {s.id for s in config.servers if s.url}


def egress_routes(config: Config) -> dict[str, EgressProxy]:
    """The proxy of every routed server, by server id (empty without `egress_proxy`)."""
    proxy = config.settings.egress_proxy
    if proxy is None:
        return {}
    route = EgressProxy(proxy, config.settings.egress_proxy_ca_file)
    return dict.fromkeys(sorted(routed_server_ids(config)), route)


class ClientOptions(TypedDict, total=False):
    proxy: httpx2.Proxy
    verify: ssl.SSLContext


def client_options(proxy: EgressProxy | None) -> ClientOptions:
    """Keyword arguments for an `httpx2.AsyncClient` to a server (or its OAuth endpoints):
    the proxy, and the trusted CAs plus the proxy's own when it has a CA file."""
    if proxy is None:
        return {}
    options: ClientOptions = {"proxy": httpx2.Proxy(proxy.url)}
    if proxy.ca_file is not None:
        options["verify"] = _context_with(proxy.ca_file)
    return options


def _context_with(ca_file: str) -> ssl.SSLContext:
    # httpx's own default (certifi, or SSL_CERT_FILE), plus the proxy's re-signing CA.
    context = httpcore2.default_ssl_context()
    try:
        context.load_verify_locations(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CredentialError(
            f"settings.egress_proxy_ca_file: cannot load {ca_file} as PEM CA certificates"
            f" ({reason})",
            missing=isinstance(exc, FileNotFoundError),
        ) from None
    return context


def proxy_unreachable(exc: BaseException) -> bool:
    """Whether `exc` (a routed server's failure, not a group) is failing to connect to the
    proxy: through a proxy the proxy is the only host dialled, but a TLS handshake with the
    server inside the tunnel fails as a connect error too, and is the server's."""
    if not isinstance(exc, httpx2.ConnectError):
        return False
    seen: BaseException | None = exc
    for _ in range(10):  # a bounded walk down the chain of causes
        if seen is None:
            return True
        if isinstance(seen, ssl.SSLError):
            return False
        seen = seen.__cause__ or seen.__context__
    return True


def via_proxy(details: ErrorDetails, proxy: EgressProxy, *, unreachable: bool) -> ErrorDetails:
    """`details` of a routed server's failure, naming the proxy: as the cause when it could not
    be reached (`unreachable`: a transport error on the way out), else as the route taken."""
    where = httpx2.URL(proxy.url)
    name = f"{where.scheme}://{where.host}" + (f":{where.port}" if where.port else "")
    if unreachable:
        cause = (
            f"cannot reach the egress proxy {name} (secure_web_gateway) this server's traffic"
            f" goes through: {details.cause}"
        )
    else:
        cause = f"{details.cause} (through the egress proxy {name})"
    return details.model_copy(update={"cause": cause})


__all__ = [
    "ClientOptions",
    "EgressProxy",
    "client_options",
    "egress_routes",
    "proxy_unreachable",
    "routed_server_ids",
    "via_proxy",
]
