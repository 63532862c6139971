"""Curation: which upstream tools and prompts a portal exposes, under which names and texts.

Rules (mirroring MCP server portals):
- A tool is enabled unless its server (or the portal's reference to it) is `default_disabled`;
  an explicit `enabled` in an override wins; portal-level overrides beat server-level ones.
- Exposed name: `portal_alias`, else `server_alias`, else the upstream name; then namespaced
  `<server_id>_<name>` and made valid and unique by `engine.naming` over the whole portal.
- Description: `portal_description`, else `server_description`, else the upstream one.

Disabled entries are kept in the result (with `enabled=False`) and take part in naming, so
enabling one never renames another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from mcp_types import Prompt, Tool

from engine.config import Config, Override, PortalConfig, PortalServerRef, ServerConfig
from engine.naming import Key, NameTable, assign_names, namespaced


@dataclass(frozen=True)
class Resolved:
    """The effective override of one upstream entry, after merging the two levels."""

    enabled: bool
    alias: str | None
    description: str | None


def resolve(
    name: str,
    server_level: Mapping[str, Override],
    portal_level: Mapping[str, Override],
    default_disabled: bool,
) -> Resolved:
    server, portal = server_level.get(name), portal_level.get(name)
    entries = [e for e in (portal, server) if e is not None]  # portal first: it wins

    def first(attr: str) -> Any:
        return next((getattr(e, attr) for e in entries if getattr(e, attr) is not None), None)

    enabled = first("enabled")
    alias = first("portal_alias")
    description = first("portal_description")
    return Resolved(
        enabled=(not default_disabled) if enabled is None else bool(enabled),
        alias=first("server_alias") if alias is None else alias,
        description=first("server_description") if description is None else description,
    )


@dataclass(frozen=True)
class CuratedTool:
    server_id: str
    upstream_name: str
    name: str
    """Client-visible name, unique in the portal."""
    description: str
    enabled: bool
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    tool: Tool
    """The tool as clients see it on the ALL surface (curated name and description)."""
    upstream: Tool
    require_approval: bool = False
    """A person approves each call before it leaves the host (`engine.approval`)."""


@dataclass(frozen=True)
class CuratedPrompt:
    server_id: str
    upstream_name: str
    name: str
    description: str
    enabled: bool
    prompt: Prompt
    """The prompt as clients see it (curated name and description)."""
    upstream: Prompt


@dataclass(frozen=True)
class UnmatchedOverride:
    """An override naming no upstream entry: likely a typo or a tool the upstream dropped."""

    server_id: str
    kind: str  # "tool" | "prompt"
    name: str
    level: str  # "server" | "portal"


@dataclass(frozen=True)
class Curation:
    """Everything one portal exposes, in a stable order (server order, then upstream order)."""

    tools: list[CuratedTool]
    prompts: list[CuratedPrompt]
    tool_names: NameTable
    prompt_names: NameTable
    unmatched: list[UnmatchedOverride] = field(default_factory=list)

    def restricted(self, server_ids: frozenset[str]) -> Curation:
        """This curation with only the tools and prompts of `server_ids`. Names stay as the
        whole portal assigned them; a hidden tool's name resolves to nothing."""
        return Curation(
            tools=[t for t in self.tools if t.server_id in server_ids],
            prompts=[p for p in self.prompts if p.server_id in server_ids],
            tool_names=self.tool_names,
            prompt_names=self.prompt_names,
        )

    @cached_property
    def enabled_tools(self) -> list[CuratedTool]:
        return [t for t in self.tools if t.enabled]

    @cached_property
    def enabled_prompts(self) -> list[CuratedPrompt]:
        return [p for p in self.prompts if p.enabled]

    def tool(self, name: str) -> CuratedTool | None:
        """The enabled tool a client-visible name stands for, or None."""
        return _lookup(self.tool_names, name, self._tools_by_key)

    def prompt(self, name: str) -> CuratedPrompt | None:
        return _lookup(self.prompt_names, name, self._prompts_by_key)

    @cached_property
    def _tools_by_key(self) -> dict[Key, CuratedTool]:
        return {(t.server_id, t.upstream_name): t for t in self.tools}

    @cached_property
    def _prompts_by_key(self) -> dict[Key, CuratedPrompt]:
        return {(p.server_id, p.upstream_name): p for p in self.prompts}


_T = TypeVar("_T", CuratedTool, CuratedPrompt)


def _lookup(table: NameTable, name: str, by_key: Mapping[Key, _T]) -> _T | None:
    key = table.resolve(name)
    item = by_key.get(key) if key is not None else None
    return item if item is not None and item.enabled else None


@dataclass(frozen=True)
class ServerCatalog:
    """What one upstream server offers right now, with its curation from config."""

    server: ServerConfig
    portal_ref: PortalServerRef
    tools: Sequence[Tool]
    prompts: Sequence[Prompt]


def curate(catalogs: Sequence[ServerCatalog]) -> Curation:
    """Apply curation to the servers of one portal (in the portal's order)."""
    tool_plans: list[tuple[ServerCatalog, Tool, Resolved]] = []
    prompt_plans: list[tuple[ServerCatalog, Prompt, Resolved]] = []
    unmatched: list[UnmatchedOverride] = []
    for cat in catalogs:
        default_disabled = _default_disabled(cat)
        levels = (
            _by_name(cat.server.updated_tools),
            _by_name(cat.portal_ref.updated_tools),
        )
        for t in cat.tools:
            tool_plans.append((cat, t, resolve(t.name, *levels, default_disabled)))
        unmatched += _unmatched(cat.server.id, "tool", levels, {t.name for t in cat.tools})
        levels = (
            _by_name(cat.server.updated_prompts),
            _by_name(cat.portal_ref.updated_prompts),
        )
        for p in cat.prompts:
            prompt_plans.append((cat, p, resolve(p.name, *levels, default_disabled)))
        unmatched += _unmatched(cat.server.id, "prompt", levels, {p.name for p in cat.prompts})

    tool_names = assign_names(
        {
            (c.server.id, t.name): namespaced(c.server.id, r.alias or t.name)
            for c, t, r in tool_plans
        }
    )
    prompt_names = assign_names(
        {
            (c.server.id, p.name): namespaced(c.server.id, r.alias or p.name)
            for c, p, r in prompt_plans
        }
    )
    return Curation(
        tools=[
            _curated_tool(c.server.id, t, r, tool_names, _asks(c, t.name)) for c, t, r in tool_plans
        ],
        prompts=[_curated_prompt(c.server.id, p, r, prompt_names) for c, p, r in prompt_plans],
        tool_names=tool_names,
        prompt_names=prompt_names,
        unmatched=unmatched,
    )


def curate_portal(
    config: Config,
    portal: PortalConfig,
    tools: Mapping[str, Sequence[Tool]],
    prompts: Mapping[str, Sequence[Prompt]] | None = None,
) -> Curation:
    """Curation of `portal` from the current upstream lists, keyed by server id.

    A server absent from `tools` (not synced, or in Error) contributes nothing: its tools
    leave the lists until it is back.
    """
    prompts = prompts or {}
    return curate(
        [
            ServerCatalog(
                server=server,
                portal_ref=ref,
                tools=tools[server.id],
                prompts=prompts.get(server.id, ()),
            )
            for ref, server in config.portal_servers(portal)
            if server.id in tools
        ]
    )


def _default_disabled(cat: ServerCatalog) -> bool:
    if cat.portal_ref.default_disabled is not None:
        return cat.portal_ref.default_disabled
    return cat.server.default_disabled


def _by_name(entries: Sequence[Override]) -> dict[str, Override]:
    return {e.name: e for e in entries}


def _unmatched(
    server_id: str,
    kind: str,
    levels: tuple[Mapping[str, Override], Mapping[str, Override]],
    names: set[str],
) -> list[UnmatchedOverride]:
    return [
        UnmatchedOverride(server_id, kind, name, level)
        for level, entries in zip(("server", "portal"), levels, strict=True)
        for name in entries
        if name not in names
    ]


def _asks(cat: ServerCatalog, name: str) -> bool:
    """Whether calls of tool `name` need a person's approval. Any `true` on any level asks:
    a portal can add approval to a server's tool but never waive what the server demands."""
    if cat.server.require_approval or cat.portal_ref.require_approval:
        return True
    entries = [*cat.server.updated_tools, *cat.portal_ref.updated_tools]
    return any(e.name == name and e.require_approval for e in entries)


def _curated_tool(
    server_id: str, upstream: Tool, r: Resolved, names: NameTable, require_approval: bool
) -> CuratedTool:
    name = names.public(server_id, upstream.name)
    description = r.description if r.description is not None else (upstream.description or "")
    exposed = upstream.model_copy(update={"name": name, "description": description or None})
    return CuratedTool(
        server_id=server_id,
        upstream_name=upstream.name,
        name=name,
        description=description,
        enabled=r.enabled,
        input_schema=upstream.input_schema,
        output_schema=upstream.output_schema,
        tool=exposed,
        upstream=upstream,
        require_approval=require_approval,
    )


def _curated_prompt(
    server_id: str, upstream: Prompt, r: Resolved, names: NameTable
) -> CuratedPrompt:
    name = names.public(server_id, upstream.name)
    description = r.description if r.description is not None else (upstream.description or "")
    exposed = upstream.model_copy(update={"name": name, "description": description or None})
    return CuratedPrompt(
        server_id=server_id,
        upstream_name=upstream.name,
        name=name,
        description=description,
        enabled=r.enabled,
        prompt=exposed,
        upstream=upstream,
    )
