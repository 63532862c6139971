"""Access to a portal and its servers, for one caller.

| config                         | portal/server without policies  | with policies             |
|--------------------------------|---------------------------------|---------------------------|
| no `[identity]` (today's mode) | open to every caller that gets  | evaluated (API keys by    |
|                                | past the API-key check          | name; anonymous: no match)|
| `[identity]` set               | visible to nobody               | evaluated                 |

A caller may enter a portal when its policies allow them, and sees those of its servers
whose own policies allow them too. Allowed in but allowed no server, every call answers
`NO_ALLOWED_SERVERS` followed by the portal's and the servers' policy ids.

API keys still gate first: a portal with `api_keys` refuses a request without a valid key
before any policy is looked at (`engine.server.app`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.auth.policies import Decision, decide
from engine.auth.principal import Principal
from engine.config import Config, PortalConfig
from engine.config_errors import ConfigProblem

NO_ALLOWED_SERVERS = "No allowed servers available, check your policies"


@dataclass(frozen=True)
class Access:
    """What one caller may do in one portal."""

    portal: str
    principal: Principal
    entry: Decision
    """Whether the caller may enter the portal."""
    servers: tuple[str, ...]
    """The portal's servers the caller sees, in the portal's order (empty when not let in)."""
    portal_policies: tuple[str, ...]
    server_policies: tuple[tuple[str, tuple[str, ...]], ...]
    """(server id, its policy ids) for each of the portal's servers."""
    disabled: frozenset[str] = frozenset()
    """Servers of `servers` the person turned off for this client (`engine.selection`):
    allowed, but hidden from this client until turned on again."""

    @property
    def allowed(self) -> bool:
        return self.entry.allowed

    @property
    def visible(self) -> frozenset[str]:
        """The servers this client sees: allowed, and not turned off for it."""
        return frozenset(self.servers) - self.disabled

    def refusal(self) -> str | None:
        """The error every call gets, or None when the caller sees at least one server."""
        if not self.allowed:
            return (
                f"{self.principal.describe()} may not use portal {self.portal!r}: "
                f"{self.entry.reason}"
            )
        if self.servers:  # even all turned off: the client can turn them on again
            return None
        return f"{NO_ALLOWED_SERVERS} ({self.policy_summary()})"

    def policy_summary(self) -> str:
        """`portal policies: a, b; server policies: c, d` (ids only: no server is named, so a
        caller learns nothing of servers hidden from them)."""
        portal = ", ".join(self.portal_policies) or "none"
        ids = sorted({p for _, ids in self.server_policies for p in ids})
        bare = sum(1 for _, ids in self.server_policies if not ids)
        servers = ", ".join(ids)
        if bare:
            noun = "server has" if bare == 1 else "servers have"
            servers += ("; " if servers else "") + f"{bare} {noun} none"
        return f"portal policies: {portal}; server policies: {servers or 'none'}"


def guard(config: Config, policy_ids: Sequence[str], principal: Principal) -> Decision:
    """The decision of one portal's or server's `policies` for `principal`."""
    if not policy_ids:
        if config.identity is None:
            return Decision(True, None, "no policies (open without [identity])")
        return Decision(False, None, "it has no policies, so with [identity] set nobody may")
    return decide([config.policy(i) for i in policy_ids], principal)


def portal_access(config: Config, portal: PortalConfig, principal: Principal) -> Access:
    entry = guard(config, portal.policies, principal)
    servers = [config.server(ref.server_id) for ref in portal.servers]
    visible = (
        tuple(s.id for s in servers if guard(config, s.policies, principal).allowed)
        if entry.allowed
        else ()
    )
    return Access(
        portal=portal.id,
        principal=principal,
        entry=entry,
        servers=visible,
        portal_policies=tuple(portal.policies),
        server_policies=tuple((s.id, tuple(s.policies)) for s in servers),
    )


def policy_warnings(config: Config) -> list[ConfigProblem]:
    """What `codemode check-config` warns about: portals and servers nobody can see."""
    warnings: list[ConfigProblem] = []
    if config.identity is not None:
        guarded: list[tuple[str, str, list[str]]] = [
            *(
                (f"portals[{i}]", f"portal {p.id!r}", p.policies)
                for i, p in enumerate(config.portals)
            ),
            *(
                (f"servers[{i}]", f"server {s.id!r}", s.policies)
                for i, s in enumerate(config.servers)
            ),
        ]
        warnings += [
            ConfigProblem(
                f"{where}.policies",
                f"{what} has no policies: with [identity] set it is visible to nobody",
            )
            for where, what, policies in guarded
            if not policies
        ]
    else:
        for i, portal in enumerate(config.portals):
            if portal.policies and not portal.requires_api_key:
                warnings.append(
                    ConfigProblem(
                        f"portals[{i}].policies",
                        f"portal {portal.id!r} has policies but no api_keys and there is no "
                        "[identity]: its callers are anonymous, match no policy, and may not "
                        "enter",
                    )
                )
    used = {p for portal in config.portals for p in portal.policies}
    used |= {p for server in config.servers for p in server.policies}
    for i, policy in enumerate(config.policies):
        if policy.id not in used:
            warnings.append(
                ConfigProblem(
                    f"policies[{i}]", f"policy {policy.id!r} is used by no portal or server"
                )
            )
    return warnings
