"""Applying a new config to a running gateway: nearly everything live, a few keys at a restart.

`plan_reload(running, new)` compares the config a gateway runs with a new (and so fully
validated) one and returns the config to run from now on: the new one, except for the keys
that need a restart, which keep their running values. `Gateway.apply` (and `Gateway.reload`,
SIGHUP) puts it in place: the portals read it from the next request on, and the upstream
connections follow it (`server_changes` says which to open, close or reopen).

| applies live                                        | needs a restart (kept as it was) |
|-----------------------------------------------------|----------------------------------|
| `[[policies]]`; `api_keys`, `api_keys_file`         | `[settings]`                     |
| adding or removing a server (it connects in the     | `[admin]`                        |
|   background: Waiting, then Ready or Error; a       | `[identity]` itself (on/off),    |
|   removed one's session or process is closed)       |   its `provider`, `issuer`,      |
| a server's transport, auth (a secret given through  |   `client_*`                     |
|   the admin API too), timeouts (reconnects)         |                                  |
| adding or removing a portal; its `hostname` and     |                                  |
|   which servers it lists                            |                                  |
| names, descriptions, `code_mode`, curation          |                                  |
|   (`default_disabled`, `updated_tools`, ...,        |                                  |
|   `updated_resources`)                              |                                  |
| `[identity]` `scopes`, `groups_claim`,              |                                  |
|   `no_access_message`                               |                                  |
| DLP: `dlp_profiles`, `dlp_action`,                 |                                  |
|   `dlp_scan_results`, `[[dlp_custom_profiles]]`     |                                  |

Keys are named in reports as `policies[<id>]`, `servers[<id>].command`,
`servers[<id>] (added)`, `portals[<id>].api_keys`, `settings.sandbox`, `identity.issuer`.

The config to run has its references checked (servers, policies, unique ids and hostnames)
before anything changes: a config built in code rather than loaded may not hold together,
and then it is refused with `ConfigError`, as a file that does not load is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel

from engine.config import (
    Config,
    ConfigError,
    ConfigProblem,
    IdentityConfig,
    PolicyConfig,
    PortalConfig,
    ServerConfig,
    cross_problems,
)
from engine.config_dlp import DlpCustomProfile
from engine.egress import egress_routes

DLP_LIVE = ("dlp_profiles", "dlp_action", "dlp_scan_results")
"""DLP keys of servers and portals: all apply live (`Gateway` recompiles the policy)."""
SERVER_LIVE = (
    "name",
    "description",
    "default_disabled",
    "updated_tools",
    "updated_prompts",
    "updated_resources",
    "policies",
    *DLP_LIVE,
)
"""Keys of a `[[servers]]` entry that apply without touching its connection; a change to any
other (transport, auth, timeouts) reconnects the server."""
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


@dataclass(frozen=True)
class ServerChanges:
    """How the upstream connections follow a new config (server ids)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    reconnected: tuple[str, ...] = ()
    """Kept servers whose transport, auth or timeouts changed: closed and opened again."""

    @property
    def to_close(self) -> tuple[str, ...]:
        return self.removed + self.reconnected

    @property
    def to_open(self) -> tuple[str, ...]:
        return self.added + self.reconnected


def server_changes(running: Config, new: Config) -> ServerChanges:
    """Which servers of `new` to open, close or reopen when it replaces `running`."""
    before = {s.id: s for s in running.servers}
    after = {s.id: s for s in new.servers}
    # A portal turning `secure_web_gateway` on or off moves its servers' traffic.
    routes_before, routes_after = egress_routes(running), egress_routes(new)
    return ServerChanges(
        added=tuple(sid for sid in after if sid not in before),
        removed=tuple(sid for sid in before if sid not in after),
        reconnected=tuple(
            sid
            for sid, server in after.items()
            if sid in before
            and (
                _changed_keys(before[sid], server, SERVER_LIVE)
                or routes_before.get(sid) != routes_after.get(sid)
                # Secrets held by the store are no config field: a new one alone reconnects.
                or before[sid].stored_credentials != server.stored_credentials
            )
        ),
    )


def plan_reload(running: Config, new: Config) -> ReloadReport:
    """The config to run after applying `new` over `running`, and what changed.

    Raises:
        ConfigError: the config to run would be inconsistent (every problem listed).
    """
    restart: list[str] = []
    applied = _changed_entries("servers", _by_id(running.servers), _by_id(new.servers))
    applied += _changed_entries("portals", _by_id(running.portals), _by_id(new.portals))
    identity = _merge_identity(running.identity, new.identity, applied, restart)
    applied += _changed_entries("policies", _by_id(running.policies), _by_id(new.policies))
    applied += _changed_entries(
        "dlp_custom_profiles",
        _by_id(running.dlp_custom_profiles),
        _by_id(new.dlp_custom_profiles),
    )
    restart += [
        f"settings.{name}"
        for name in type(running.settings).model_fields
        if getattr(running.settings, name) != getattr(new.settings, name)
    ]
    if running.admin != new.admin:
        restart.append("admin")
    merged = new.model_copy(
        update={"admin": running.admin, "identity": identity, "settings": running.settings}
    )
    problems = [ConfigProblem(p, m) for p, m in cross_problems(merged.model_dump())]
    if problems:
        note = ConfigProblem(
            "",
            "the references of the config to run do not hold (it keeps [identity], "
            "[settings] and [admin] as they run)",
        )
        raise ConfigError([note, *problems], "the reloaded config")
    return ReloadReport(merged, tuple(applied), tuple(restart))


def _changed_keys(running: BaseModel, new: BaseModel, skip: Sequence[str] = ()) -> list[str]:
    return [
        k
        for k in type(running).model_fields
        if k not in skip and getattr(running, k) != getattr(new, k)
    ]


def _by_id(
    entries: Sequence[ServerConfig]
    | Sequence[PortalConfig]
    | Sequence[PolicyConfig]
    | Sequence[DlpCustomProfile],
) -> dict[str, BaseModel]:
    return {e.id: e for e in entries}


def _changed_entries(
    kind: str, before: Mapping[str, BaseModel], after: Mapping[str, BaseModel]
) -> list[str]:
    """`servers[x] (added)`, `servers[x] (removed)` and `servers[x].<key>` for each changed
    key of a kept entry (a portal's servers: `portals[p].servers[s].<key>` for their
    curation, `portals[p].servers` when which servers or their order changed)."""
    changed: list[str] = []
    for eid, entry in after.items():
        old = before.get(eid)
        if old is None:
            changed.append(f"{kind}[{eid}] (added)")
        elif isinstance(entry, PortalConfig) and isinstance(old, PortalConfig):
            changed += [f"{kind}[{eid}].{k}" for k in _changed_keys(old, entry, ("servers",))]
            changed += _changed_refs(old, entry)
        elif kind == "policies":
            changed += [f"{kind}[{eid}]"] if old != entry else []
        else:
            changed += [f"{kind}[{eid}].{k}" for k in _changed_keys(old, entry)]
    return changed + [f"{kind}[{eid}] (removed)" for eid in before if eid not in after]


def _changed_refs(running: PortalConfig, new: PortalConfig) -> list[str]:
    ids = [r.server_id for r in running.servers]
    changed = []
    if ids != [r.server_id for r in new.servers]:
        changed.append(f"portals[{running.id}].servers (which servers, their order)")
    before = {r.server_id: r for r in running.servers}
    for ref in new.servers:
        old = before.get(ref.server_id)
        if old is not None:
            where = f"portals[{running.id}].servers[{ref.server_id}]"
            changed += [f"{where}.{k}" for k in _changed_keys(old, ref)]
    return changed


def _live_copy(running: M, new: M, live: Sequence[str], where: str, applied: list[str]) -> M:
    """`running` with the `live` keys taken from `new`; each one that changed is noted."""
    update = {k: getattr(new, k) for k in live}
    applied += [f"{where}.{k}" for k, v in update.items() if getattr(running, k) != v]
    return running.model_copy(update=update)


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
    restart += [f"identity.{k}" for k in _changed_keys(running, new, IDENTITY_LIVE)]
    return _live_copy(running, new, IDENTITY_LIVE, "identity", applied)
