"""Who is calling and what they may see: principals, policy evaluation, portal access.

Pure functions over the config (no I/O, nothing of serving): `engine.server` turns a
request's credentials into a `Principal`; the sign-in and OAuth layers will do the same for
people. See `engine.auth.access` for the rules.
"""

from engine.auth.access import NO_ALLOWED_SERVERS, Access, policy_warnings, portal_access
from engine.auth.policies import Decision, decide, policy_matches, selector_matches
from engine.auth.principal import ANONYMOUS, Principal

__all__ = [
    "ANONYMOUS",
    "NO_ALLOWED_SERVERS",
    "Access",
    "Decision",
    "Principal",
    "decide",
    "policy_matches",
    "policy_warnings",
    "portal_access",
    "selector_matches",
]
