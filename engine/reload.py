"""Reloading a running gateway's config: what applies to the next request, what waits for a
restart.

`plan_reload(running, new)` compares the config a gateway runs with a newly loaded (and so
fully validated) one and returns the config to run from now on: the new one, except for the
keys that need a restart, which keep their running values. `Gateway.reload` puts it in place.

| applies live (next request)                       | needs a restart (kept as it was)      |
|---------------------------------------------------|---------------------------------------|
| `[[policies]]`                                    | `[settings]`                          |
| `policies` of portals and servers                 | adding or removing a portal or server |
| `api_keys`, `api_keys_file` (re-read too)         | a server's transport, auth, timeouts  |
| `[identity]` `scopes`, `groups_claim`,            | `[identity]` itself (on/off), its     |
|   `no_access_message`                             |   `provider`, `issuer`, `client_*`    |
| portal and server `name`, `description`           | a portal's `hostname` and which       |
| a portal's `code_mode` (`allow_code_mode`)        |   servers it lists                    |
| curation: `default_disabled`, `updated_tools`,    |                                       |
|   `updated_prompts`, `updated_resources` (server  |                                       |
|   and portal level)                               |                                       |

Keys are named in reports as `policies[<id>]`, `servers[<id>].command`,
`portals[<id>].api_keys`, `settings.sandbox`, `identity.issuer`.

The config to run is checked as a whole before anything changes: a kept entry may refer to
a policy the new file no longer has (a removed server that still runs until the restart),
and then the reload is refused with `ConfigError`, as it is for a file that does not load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from engine.config import (
    Config,
    ConfigError,
    ConfigProblem,
    IdentityConfig,
    PortalConfig,
    PortalServerRef,
    ServerConfig,
    cross_problems,
)

SERVER_LIVE = (
    "name",
    "description",
    "default_disabled",
    "updated_tools",
    "updated_prompts",
    "updated_resources",
    "policies",
)
"""Keys of a `[[servers]]` entry that apply live; the others (transport, auth, timeouts)
need a restart."""
PORTAL_LIVE = (
    "name",
    "description",
    "code_mode",
    "allow_code_mode",
    "api_keys",
    "api_keys_file",
    "policies",
)
"""Keys of a `[[portals]]` entry that apply live, besides the curation of its servers."""
IDENTITY_LIVE = ("scopes", "groups_claim", "no_access_message")
"""Keys of `[identity]` that apply live."""

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ReloadReport:
    """The outcome of a reload: the config now running and what changed."""

    config: Config
    """What runs from now on: the new config with the restart-only keys as they were."""
    applied: tuple[str, ...] = ()
    """Keys that changed and apply from the next request on."""
    needs_restart: tuple[str, ...] = field(default=())
    """Keys that changed but keep their running value until a restart."""

    @property
    def changed(self) -> bool:
        return bool(self.applied or self.needs_restart)

    def summary(self) -> str:
        """One line for the log."""
        if not self.changed:
            return "no changes"
        parts = []
        if self.applied:
            parts.append("applied: " + ", ".join(self.applied))
        if self.needs_restart:
            parts.append(
                "needs a restart (kept as it was until then): " + ", ".join(self.needs_restart)
            )
        return "; ".join(parts)


def plan_reload(running: Config, new: Config) -> ReloadReport:
    """The config to run after reloading `new` over `running`, and what changed.

    Raises:
        ConfigError: the config to run would be inconsistent (every problem listed).
    """
    applied: list[str] = []
    restart: list[str] = []
    servers = _merge_servers(running.servers, new.servers, applied, restart)
    portals = _merge_portals(running.portals, new.portals, applied, restart)
    identity = _merge_identity(running.identity, new.identity, applied, restart)
    applied += _changed_policies(running, new)
    restart += [
        f"settings.{name}"
        for name in type(running.settings).model_fields
        if getattr(running.settings, name) != getattr(new.settings, name)
    ]
    if running.admin != new.admin:
        restart.append("admin")
    merged = new.model_copy(
        update={
            "admin": running.admin,
            "servers": servers,
            "portals": portals,
            "identity": identity,
            "settings": running.settings,
        }
    )
    problems = [ConfigProblem(p, m) for p, m in cross_problems(merged.model_dump())]
    if problems:
        note = ConfigProblem(
            "",
            "the config to run keeps what needs a restart as it was, and then these "
            "references do not hold; restart codemode to apply the file as it is",
        )
        raise ConfigError([note, *problems], "the reloaded config")
    return ReloadReport(merged, tuple(applied), tuple(restart))


def _live_copy(running: M, new: M, live: Sequence[str], where: str, applied: list[str]) -> M:
    """`running` with the `live` keys taken from `new`; each one that changed is noted."""
    update = {k: getattr(new, k) for k in live}
    applied += [f"{where}.{k}" for k, v in update.items() if getattr(running, k) != v]
    return running.model_copy(update=update)


def _restart_keys(running: BaseModel, new: BaseModel, live: Sequence[str], where: str) -> list[str]:
    return [
        f"{where}.{k}"
        for k in type(running).model_fields
        if k not in live and getattr(running, k) != getattr(new, k)
    ]


def _merge_servers(
    running: Sequence[ServerConfig],
    new: Sequence[ServerConfig],
    applied: list[str],
    restart: list[str],
) -> list[ServerConfig]:
    by_id = {s.id: s for s in new}
    merged: list[ServerConfig] = []
    for server in running:
        where = f"servers[{server.id}]"
        other = by_id.get(server.id)
        if other is None:
            restart.append(f"{where} (removed)")
            merged.append(server)
            continue
        restart += _restart_keys(server, other, SERVER_LIVE, where)
        merged.append(_live_copy(server, other, SERVER_LIVE, where, applied))
    known = {s.id for s in running}
    restart += [f"servers[{s.id}] (added)" for s in new if s.id not in known]
    return merged


def _merge_portals(
    running: Sequence[PortalConfig],
    new: Sequence[PortalConfig],
    applied: list[str],
    restart: list[str],
) -> list[PortalConfig]:
    by_id = {p.id: p for p in new}
    merged: list[PortalConfig] = []
    for portal in running:
        where = f"portals[{portal.id}]"
        other = by_id.get(portal.id)
        if other is None:
            restart.append(f"{where} (removed)")
            merged.append(portal)
            continue
        restart += _restart_keys(portal, other, (*PORTAL_LIVE, "servers"), where)
        refs = _merge_refs(portal, other, applied, restart)
        kept = _live_copy(portal, other, PORTAL_LIVE, where, applied)
        merged.append(kept.model_copy(update={"servers": refs}))
    known = {p.id for p in running}
    restart += [f"portals[{p.id}] (added)" for p in new if p.id not in known]
    return merged


def _merge_refs(
    running: PortalConfig, new: PortalConfig, applied: list[str], restart: list[str]
) -> list[PortalServerRef]:
    """The portal's servers as they run, each with its curation from `new`: which servers a
    portal lists needs a restart, how it curates them does not."""
    ids = [r.server_id for r in running.servers]
    if ids != [r.server_id for r in new.servers]:
        restart.append(f"portals[{running.id}].servers (which servers, their order)")
    by_id = {r.server_id: r for r in new.servers}
    live = tuple(k for k in PortalServerRef.model_fields if k != "server_id")
    return [
        _live_copy(
            ref,
            by_id[ref.server_id],
            live,
            f"portals[{running.id}].servers[{ref.server_id}]",
            applied,
        )
        if ref.server_id in by_id
        else ref
        for ref in running.servers
    ]


def _merge_identity(
    running: IdentityConfig | None,
    new: IdentityConfig | None,
    applied: list[str],
    restart: list[str],
) -> IdentityConfig | None:
    if running is None or new is None:
        if (running is None) != (new is None):
            restart.append("identity (added)" if running is None else "identity (removed)")
        return running
    restart += _restart_keys(running, new, IDENTITY_LIVE, "identity")
    return _live_copy(running, new, IDENTITY_LIVE, "identity", applied)


def _changed_policies(running: Config, new: Config) -> list[str]:
    before: dict[str, Any] = {p.id: p for p in running.policies}
    after: dict[str, Any] = {p.id: p for p in new.policies}
    changed = [
        f"policies[{pid}]" + (" (removed)" if pid not in after else "")
        for pid in before
        if before[pid] != after.get(pid)
    ]
    return changed + [f"policies[{pid}] (added)" for pid in after if pid not in before]
