"""A snapshot of what one portal exposes: curated tools under their client and `codemode`
names, a search index, and their TypeScript declarations. Rebuilt whenever an upstream's
lists or health change; a code run keeps the snapshot it started with."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from engine.curation import CuratedPrompt, CuratedTool, Curation
from engine.resource_curation import CuratedResource, CuratedTemplate, ResourceCuration
from engine.search import SearchHit, ToolIndex
from stubs import declare, sanitize_names

DEFAULT_SEARCH_LIMIT = 5
MAX_SEARCH_LIMIT = 50


@dataclass(frozen=True)
class Match:
    tool: CuratedTool
    js_name: str
    score: float


@dataclass(frozen=True)
class _ResourceEntry:
    """A resource or template as the search index reads it (`engine.search.Searchable`)."""

    item: CuratedResource | CuratedTemplate
    name: str
    description: str
    server_id: str
    upstream_name: str
    input_schema: dict[str, Any]


def _entry(item: CuratedResource | CuratedTemplate) -> _ResourceEntry:
    shown = item.resource if isinstance(item, CuratedResource) else item.template
    uri = item.uri if isinstance(item, CuratedResource) else item.uri_template
    # The URI's words (scheme, path) describe it as much as its description does.
    text = " ".join(filter(None, [shown.title, shown.description, uri, shown.mime_type]))
    return _ResourceEntry(item, shown.name, text, item.server_id, uri, {})


def resource_json(item: CuratedResource | CuratedTemplate) -> dict[str, Any]:
    """A resource or template as `codemode.resources.*` and `query` give it."""
    if isinstance(item, CuratedResource):
        out: dict[str, Any] = {"uri": item.uri}
        shown: Any = item.resource
    else:
        out = {"uriTemplate": item.uri_template}
        shown = item.template
    out["name"] = shown.name
    for key, value in (
        ("title", shown.title),
        ("description", shown.description),
        ("mimeType", shown.mime_type),
    ):
        if value is not None:
            out[key] = value
    out["server"] = item.server_id
    return out


MAX_RESTRICTED_VIEWS = 64
"""Restricted views kept per snapshot (one per distinct set of visible servers)."""


class PortalView:
    def __init__(
        self,
        curation: Curation,
        server_names: list[str],
        js_names: dict[str, str] | None = None,
        resources: ResourceCuration | None = None,
    ) -> None:
        self.curation = curation
        self.tools: list[CuratedTool] = curation.enabled_tools
        self.prompts: list[CuratedPrompt] = curation.enabled_prompts
        self.resource_curation = resources if resources is not None else ResourceCuration()
        self.resources: list[CuratedResource] = self.resource_curation.enabled_resources
        self.templates: list[CuratedTemplate] = self.resource_curation.enabled_templates
        self.server_names = server_names
        """Ids of the portal's servers that are Ready, for "how to broaden" hints."""
        if js_names is None:
            js_names = sanitize_names(t.name for t in self.tools)
        self.js_names: dict[str, str] = {t.name: js_names[t.name] for t in self.tools}
        self.by_js_name: dict[str, CuratedTool] = {self.js_names[t.name]: t for t in self.tools}
        self._restricted: dict[frozenset[str], PortalView] = {}

    def restricted(self, server_ids: frozenset[str]) -> PortalView:
        """This snapshot as a caller who sees only `server_ids` sees it: their tools, prompts
        and hints, under the same names (`codemode.<name>` does not change with who asks),
        with a search index of their own. Cached per set; the cache goes with the snapshot."""
        present = (
            {t.server_id for t in self.curation.tools}
            | {p.server_id for p in self.curation.prompts}
            | {r.server_id for r in self.resource_curation.resources}
            | {t.server_id for t in self.resource_curation.templates}
        )
        if present <= server_ids and set(self.server_names) <= server_ids:
            return self
        key = frozenset(server_ids & (present | set(self.server_names)))
        view = self._restricted.get(key)
        if view is None:
            if len(self._restricted) >= MAX_RESTRICTED_VIEWS:
                self._restricted.clear()
            view = PortalView(
                self.curation.restricted(key),
                [s for s in self.server_names if s in key],
                self.js_names,
                self.resource_curation.restricted(key),
            )
            self._restricted[key] = view
        return view

    def tool(self, client_name: str) -> CuratedTool | None:
        return self.curation.tool(client_name)

    def find(self, name: str) -> CuratedTool | None:
        """A tool by its `codemode` name or its client-visible name."""
        return self.by_js_name.get(name) or self.curation.tool(name)

    @cached_property
    def index(self) -> ToolIndex[CuratedTool]:
        return ToolIndex(self.tools)

    def search(self, query: str, limit: int = DEFAULT_SEARCH_LIMIT) -> list[Match]:
        limit = max(1, min(limit, MAX_SEARCH_LIMIT))
        hits: list[SearchHit[CuratedTool]] = self.index.search(query, limit)
        return [Match(h.item, self.js_names[h.item.name], h.score) for h in hits]

    @cached_property
    def resource_index(self) -> ToolIndex[_ResourceEntry]:
        items: list[CuratedResource | CuratedTemplate] = [*self.resources, *self.templates]
        return ToolIndex([_entry(item) for item in items])

    def search_resources(
        self, query: str, limit: int = DEFAULT_SEARCH_LIMIT
    ) -> list[CuratedResource | CuratedTemplate]:
        """The resources and templates that best match `query` (BM25, as for tools)."""
        limit = max(1, min(limit, MAX_SEARCH_LIMIT))
        return [hit.item.item for hit in self.resource_index.search(query, limit)]

    def declarations(self, tools: list[CuratedTool]) -> str:
        """Compilable TypeScript for `tools`, named as they are on `codemode`."""
        return declare([t.tool for t in tools], names=self.js_names) if tools else ""

    def no_match_hint(self, query: str) -> str:
        servers = ", ".join(self.server_names) or "none is ready"
        if not query.strip():
            return (
                'Empty query: describe what you want to do, e.g. "current time in a '
                f"timezone\". This portal's servers: {servers}."
            )
        return (
            f'No tool matches "{query}". Use fewer or more general words, or a server name. '
            f"This portal's servers: {servers}."
        )

    def match_json(self, match: Match) -> dict[str, Any]:
        tool = match.tool
        out: dict[str, Any] = {
            "name": tool.name,
            "codemode": f"codemode.{match.js_name}",
            "server": tool.server_id,
            "description": tool.description,
            "inputSchema": tool.input_schema,
        }
        if tool.output_schema is not None:
            out["outputSchema"] = tool.output_schema
        return out

    def describe_text(self, matches: list[Match]) -> str:
        """Text for the `query` tool: declarations first, then the JSON schemas."""
        schemas = json.dumps([self.match_json(m) for m in matches], ensure_ascii=False)
        return (
            f"{self.declarations([m.tool for m in matches])}\n"
            f'JSON schemas (call by "name" where tools are listed, or as '
            f"codemode.<name> in code):\n{schemas}"
        )
