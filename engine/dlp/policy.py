"""Which profiles apply to a call, with which action, and what the call may then do.

A call through portal P to server S is checked with S's `dlp_profiles` (at S's `dlp_action`)
and P's (at P's): a portal's profiles add to its servers'. A profile named by both takes the
stricter action (block, then redact, then log). Results are checked only with the profiles of
entries that set `dlp_scan_results`.

`DlpPolicy` is built from a whole config (custom patterns compiled once) and replaced on
reload; the gateway hands it to `ToolCalls`, the one path every upstream call takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from engine.config import Config
from engine.config_dlp import DlpAction
from engine.dlp.custom import CustomProfile
from engine.dlp.financial import FinancialInformation
from engine.dlp.scan import MAX_DEPTH, MAX_SCAN_CHARS, Finding, Profile, scan
from engine.dlp.secrets import CredentialsAndSecrets
from engine.dlp.text import Detector

_STRICTNESS: Final[Mapping[DlpAction, int]] = {"log": 0, "redact": 1, "block": 2}
OVERFLOW_PATH: Final = "(unscanned: over the DLP scan cap)"


@cache
def _predefined() -> dict[str, Detector]:
    # Built once per process: the detect-secrets plugins are stateless once made.
    return {
        "credentials_and_secrets": CredentialsAndSecrets(),
        "financial_information": FinancialInformation(),
    }


@dataclass(frozen=True)
class Verdict:
    """What DLP decided for one call's arguments (or one result)."""

    value: Any
    """What to send on: the arguments as given, or with matches redacted."""
    findings: tuple[Finding, ...] = ()
    blocked: str | None = None
    """Why the call may not go on (names profiles and paths, never matched text)."""

    def log_json(self) -> list[dict[str, str]]:
        return [f.to_json() for f in self.findings]


PASS: Final = Verdict(None)


class Rules:
    """The profiles of one (portal, server) pair, for arguments and for results."""

    def __init__(
        self, arguments: dict[str, DlpAction], results: dict[str, DlpAction], policy: DlpPolicy
    ) -> None:
        self.arguments = arguments
        self.results = results
        self._policy = policy

    def check(self, value: Any, actions: dict[str, DlpAction], root: str, what: str) -> Verdict:
        if not actions:
            return Verdict(value)
        outcome = scan(value, self._policy.profiles(actions), root)
        findings = list(outcome.findings)
        if outcome.overflow:
            strictest = max(actions.values(), key=_STRICTNESS.__getitem__)
            findings += [Finding(p, OVERFLOW_PATH, a) for p, a in actions.items()]
            if strictest != "log":
                return Verdict(
                    value,
                    tuple(findings),
                    f"{what} could not be checked by DLP: over {MAX_SCAN_CHARS:,} characters or "
                    f"{MAX_DEPTH} levels of nesting (profiles: {', '.join(actions)}); "
                    "send less per call",
                )
        blocks = [f for f in findings if f.action == "block"]
        if blocks:
            named = "; ".join(f"{f.profile} at {f.path or '(the whole value)'}" for f in blocks)
            return Verdict(value, tuple(findings), f"{what} blocked by DLP: {named}")
        return Verdict(outcome.value, tuple(findings))


class DlpPolicy:
    """Every portal's and server's DLP settings of one config, compiled."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._custom = {
            p.id: (tuple(p.patterns), tuple(p.keywords)) for p in config.dlp_custom_profiles
        }
        for patterns, keywords in self._custom.values():
            CustomProfile(patterns, keywords)  # compile now: a bad pattern fails the load
        self._rules: dict[tuple[str, str], Rules] = {}

    @property
    def active(self) -> bool:
        entries: Iterable[Any] = (*self._config.servers, *self._config.portals)
        return any(e.dlp_profiles for e in entries)

    def rules(self, portal_id: str, server_id: str) -> Rules:
        key = (portal_id, server_id)
        rules = self._rules.get(key)
        if rules is None:
            rules = self._rules[key] = self._build(portal_id, server_id)
        return rules

    def profiles(self, actions: Mapping[str, DlpAction]) -> tuple[Profile, ...]:
        """Fresh detectors for one call (a custom profile's time budget is per call)."""
        detectors = _predefined()
        out: list[Profile] = []
        for pid, action in actions.items():
            detector = detectors.get(pid)
            if detector is None:
                patterns, keywords = self._custom[pid]
                detector = CustomProfile(patterns, keywords)
            out.append(Profile(pid, detector, action))
        return tuple(out)

    def _build(self, portal_id: str, server_id: str) -> Rules:
        entries: list[Any] = []
        with suppress(KeyError):  # a benchmark's stand-in tool may name no configured server
            entries.append(self._config.server(server_id))
        with suppress(KeyError):
            entries.append(self._config.portal(portal_id))
        arguments: dict[str, DlpAction] = {}
        results: dict[str, DlpAction] = {}
        for entry in entries:
            for pid in entry.dlp_profiles:
                _stricter(arguments, pid, entry.dlp_action)
                if entry.dlp_scan_results:
                    _stricter(results, pid, entry.dlp_action)
        return Rules(arguments, results, self)


def _stricter(actions: dict[str, DlpAction], pid: str, action: DlpAction) -> None:
    old = actions.get(pid)
    if old is None or _STRICTNESS[action] > _STRICTNESS[old]:
        actions[pid] = action
