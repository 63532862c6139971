"""Curation of upstream resources and resource templates, and the URIs clients see.

Curation follows the prompts' rules (`engine.curation.resolve`): `updated_resources` entries,
named by the upstream URI (a template's `uriTemplate`), enable or disable an entry and replace
its `name` and `description`; portal-level entries beat server-level ones; `default_disabled`
applies. The URI itself is never aliased.

URIs (`client_uri`): a resource keeps its upstream URI when no other server of the portal
lists the same one, so clients and the conformance suite see what the server wrote. When two
servers list the same URI (or the same template), both are shown as
`codemode://<server_id>/<upstream URI>` (the upstream URI follows the prefix verbatim, so a
template stays a template and an expanded one still routes). That form is accepted for every
resource of the portal, listed under it or not. As with tool names, disabled entries take part,
so enabling one never renames another, and the names are the whole portal's, not the caller's.

Reading (`ResourceCuration.route`) finds the server and the upstream URI: the prefixed form
names the server; otherwise an enabled resource listed under that URI, else the enabled
templates that match it (RFC 6570 matching, `mcp.shared.uri_template`). Only what is listed or
matches a listed template is read: a disabled entry cannot be reached by any spelling of its URI.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from mcp.shared.uri_template import InvalidUriTemplate, UriTemplate
from mcp_types import (
    BlobResourceContents,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    TextResourceContents,
)

from engine.config import Config, Override, PortalConfig, PortalServerRef, ServerConfig
from engine.curation import Resolved, UnmatchedOverride, resolve

PREFIX = "codemode://"
"""Head of a server-qualified URI: `codemode://<server_id>/<upstream URI>`."""


def qualified(server_id: str, upstream_uri: str) -> str:
    """The server-qualified form of an upstream URI (or URI template)."""
    return f"{PREFIX}{server_id}/{upstream_uri}"


def split_qualified(uri: str) -> tuple[str, str] | None:
    """(server id, upstream URI) of a server-qualified URI; None for any other URI."""
    if not uri.startswith(PREFIX):
        return None
    server_id, slash, rest = uri[len(PREFIX) :].partition("/")
    return (server_id, rest) if slash and server_id and rest else None


@dataclass(frozen=True)
class CuratedResource:
    server_id: str
    upstream_uri: str
    uri: str
    """The URI clients see (the upstream one, or the qualified form on a collision)."""
    enabled: bool
    resource: Resource
    """The resource as clients see it (curated uri, name and description)."""


@dataclass(frozen=True)
class CuratedTemplate:
    server_id: str
    upstream_template: str
    uri_template: str
    enabled: bool
    template: ResourceTemplate

    def matches(self, upstream_uri: str) -> bool:
        return _matches(self.upstream_template, upstream_uri)


@dataclass(frozen=True)
class Route:
    """Where a read or subscription of a client URI goes."""

    server_id: str
    upstream_uri: str


class RouteError(LookupError):
    """A URI no visible, enabled resource or template stands for; the message says what to do."""


@dataclass(frozen=True)
class ResourceCuration:
    resources: list[CuratedResource] = field(default_factory=list)
    templates: list[CuratedTemplate] = field(default_factory=list)
    unmatched: list[UnmatchedOverride] = field(default_factory=list)

    def restricted(self, server_ids: frozenset[str]) -> ResourceCuration:
        """Only the entries of `server_ids`, under the URIs the whole portal gave them."""
        return ResourceCuration(
            [r for r in self.resources if r.server_id in server_ids],
            [t for t in self.templates if t.server_id in server_ids],
        )

    @cached_property
    def enabled_resources(self) -> list[CuratedResource]:
        return [r for r in self.resources if r.enabled]

    @cached_property
    def enabled_templates(self) -> list[CuratedTemplate]:
        return [t for t in self.templates if t.enabled]

    @cached_property
    def _by_uri(self) -> dict[str, CuratedResource]:
        return {r.uri: r for r in self.resources}

    @cached_property
    def _by_upstream(self) -> dict[tuple[str, str], CuratedResource]:
        return {(r.server_id, r.upstream_uri): r for r in self.resources}

    def route(self, uri: str) -> Route:
        """The server and upstream URI for a client URI. Raises `RouteError`."""
        split = split_qualified(uri)
        if split is not None:
            return self._route_in(*split, uri)
        listed = self._by_uri.get(uri)
        if listed is not None:
            if listed.enabled:
                return Route(listed.server_id, listed.upstream_uri)
            raise self._unknown(uri)
        servers = sorted(
            {
                t.server_id
                for t in self.enabled_templates
                if t.uri_template == t.upstream_template and t.matches(uri)
            }
        )
        if len(servers) == 1:
            return self._route_in(servers[0], uri, uri)
        if servers:
            forms = ", ".join(qualified(s, uri) for s in servers)
            raise RouteError(
                f"resource URI {uri!r} matches templates of several servers; "
                f"name the server: {forms}"
            )
        raise self._unknown(uri)

    def _route_in(self, server_id: str, upstream_uri: str, asked: str) -> Route:
        listed = self._by_upstream.get((server_id, upstream_uri))
        if listed is not None:
            if listed.enabled:
                return Route(server_id, upstream_uri)
            raise self._unknown(asked)
        for template in self.enabled_templates:
            if template.server_id == server_id and template.matches(upstream_uri):
                return Route(server_id, upstream_uri)
        raise self._unknown(asked)

    def _unknown(self, uri: str) -> RouteError:
        return RouteError(
            f"unknown resource {uri!r}: read a URI that resources/list shows or that matches "
            "a template of resources/templates/list"
        )


@dataclass(frozen=True)
class ServerResources:
    """What one upstream server lists right now, with its curation from config."""

    server: ServerConfig
    portal_ref: PortalServerRef
    resources: Sequence[Resource]
    templates: Sequence[ResourceTemplate]


def curate_resources(catalogs: Sequence[ServerResources]) -> ResourceCuration:
    """Apply curation and URI naming to the resources of one portal (in the portal's order)."""
    uri_owners = _owners((c.server.id, r.uri) for c in catalogs for r in c.resources)
    template_owners = _owners((c.server.id, t.uri_template) for c in catalogs for t in c.templates)
    resources: list[CuratedResource] = []
    templates: list[CuratedTemplate] = []
    unmatched: list[UnmatchedOverride] = []
    for cat in catalogs:
        sid = cat.server.id
        levels = (
            _by_name(cat.server.updated_resources),
            _by_name(cat.portal_ref.updated_resources),
        )
        default_disabled = (
            cat.portal_ref.default_disabled
            if cat.portal_ref.default_disabled is not None
            else cat.server.default_disabled
        )
        for r in cat.resources:
            decided = resolve(r.uri, *levels, default_disabled)
            uri = _client_uri(sid, r.uri, uri_owners)
            resources.append(
                CuratedResource(sid, r.uri, uri, decided.enabled, _exposed(r, uri, decided))
            )
        for t in cat.templates:
            decided = resolve(t.uri_template, *levels, default_disabled)
            shown = _client_uri(sid, t.uri_template, template_owners)
            exposed = t.model_copy(update=_texts(t.name, t.description, decided))
            exposed = exposed.model_copy(update={"uri_template": shown})
            templates.append(CuratedTemplate(sid, t.uri_template, shown, decided.enabled, exposed))
        names = {r.uri for r in cat.resources} | {t.uri_template for t in cat.templates}
        unmatched += [
            UnmatchedOverride(sid, "resource", name, level)
            for level, entries in zip(("server", "portal"), levels, strict=True)
            for name in entries
            if name not in names
        ]
    return ResourceCuration(resources, templates, unmatched)


def curate_portal_resources(
    config: Config,
    portal: PortalConfig,
    resources: Mapping[str, Sequence[Resource]],
    templates: Mapping[str, Sequence[ResourceTemplate]],
) -> ResourceCuration:
    """Curation of `portal`'s resources from the current upstream lists, keyed by server id;
    a server absent from `resources` (not Ready) contributes nothing."""
    return curate_resources(
        [
            ServerResources(server, ref, resources[server.id], templates.get(server.id, ()))
            for ref, server in config.portal_servers(portal)
            if server.id in resources
        ]
    )


def qualify_contents(result: ReadResourceResult, server_id: str) -> ReadResourceResult:
    """The contents' URIs in the qualified form, for a client that read by that form."""
    contents: list[TextResourceContents | BlobResourceContents] = [
        c.model_copy(update={"uri": qualified(server_id, c.uri)}) for c in result.contents
    ]
    return result.model_copy(update={"contents": contents})


def _owners(pairs: Iterable[tuple[str, str]]) -> Counter[str]:
    """How many distinct servers list each URI."""
    return Counter(uri for _sid, uri in set(pairs))


def _client_uri(server_id: str, upstream: str, owners: Counter[str]) -> str:
    # A URI that already looks qualified is qualified again, so it routes to its server.
    if owners[upstream] > 1 or upstream.startswith(PREFIX):
        return qualified(server_id, upstream)
    return upstream


def _exposed(resource: Resource, uri: str, decided: Resolved) -> Resource:
    update: dict[str, object] = {"uri": uri, **_texts(resource.name, resource.description, decided)}
    return resource.model_copy(update=update)


def _texts(name: str, description: str | None, decided: Resolved) -> dict[str, object]:
    return {
        "name": decided.alias or name,
        "description": decided.description if decided.description is not None else description,
    }


def _by_name(entries: Sequence[Override]) -> Mapping[str, Override]:
    return {e.name: e for e in entries}


def _matches(template: str, uri: str) -> bool:
    parsed = _parsed(template)
    if parsed is None:
        # A template RFC 6570 matching cannot read: its literal head must match.
        head = template.split("{", 1)[0]
        return bool(head) and uri.startswith(head)
    return parsed.match(uri) is not None


@lru_cache(maxsize=1024)
def _parsed(template: str) -> UriTemplate | None:
    try:
        return UriTemplate.parse(template)
    except InvalidUriTemplate:
        return None


__all__ = [
    "PREFIX",
    "CuratedResource",
    "CuratedTemplate",
    "ResourceCuration",
    "Route",
    "RouteError",
    "ServerResources",
    "curate_portal_resources",
    "curate_resources",
    "qualified",
    "qualify_contents",
    "split_qualified",
]
