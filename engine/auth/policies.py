"""Policy evaluation.

A policy matches a caller who matches any of its `include` selectors, none of its `exclude`
selectors and all of its `require` selectors. Of the policies guarding a portal or server, a
matching `block` keeps the caller out whatever else matches; otherwise a matching `allow`
lets them in; no matching allow means no access.

Selectors: `email` (a person's address, case-insensitive), `email_domain` (the part after
the `@`, exact and case-insensitive: subdomains are not included), `group` (exact, one of the
person's groups), `service` (an API key's name, exact), `everyone` (every person and every
service; never an anonymous caller). A person matches no `service` selector, a service no
`email`, `email_domain` or `group` selector, an anonymous caller none at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.auth.principal import Principal
from engine.config import PolicyConfig, Selector


def selector_matches(selector: Selector, principal: Principal) -> bool:
    if not principal.authenticated:
        return False
    if selector.everyone:
        return True
    if selector.service is not None:
        return principal.kind == "service" and principal.service == selector.service
    if principal.kind != "person" or principal.email is None:
        return False
    if selector.email is not None:
        return principal.email.casefold() == selector.email.casefold()
    if selector.email_domain is not None:
        domain = principal.email.rpartition("@")[2]
        return domain.casefold() == selector.email_domain.casefold()
    if selector.group is not None:
        return selector.group in principal.groups
    return False  # unreachable: a Selector has exactly one key


def policy_matches(policy: PolicyConfig, principal: Principal) -> bool:
    return (
        any(selector_matches(s, principal) for s in policy.include)
        and not any(selector_matches(s, principal) for s in policy.exclude)
        and all(selector_matches(s, principal) for s in policy.require)
    )


@dataclass(frozen=True)
class Decision:
    allowed: bool
    policy: str | None
    """The deciding policy: the matching block, or the first matching allow; None when no
    policy matched (or none applied)."""
    reason: str


def decide(policies: Sequence[PolicyConfig], principal: Principal) -> Decision:
    """Whether `policies` let `principal` in. Block wins over allow; no allow, no access."""
    matched = [p for p in policies if policy_matches(p, principal)]
    block = next((p for p in matched if p.decision == "block"), None)
    if block is not None:
        return Decision(False, block.id, f"blocked by policy {block.id!r}")
    allow = next((p for p in matched if p.decision == "allow"), None)
    if allow is not None:
        return Decision(True, allow.id, f"allowed by policy {allow.id!r}")
    ids = ", ".join(p.id for p in policies) or "none"
    return Decision(False, None, f"no allow policy matches (policies: {ids})")
