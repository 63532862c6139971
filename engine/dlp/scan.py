"""Walking one call's arguments (or a result) with a set of profiles, within fixed bounds.

The walk is iterative (no recursion, whatever the nesting) and builds the value to send as it
goes, with each match replaced by `[REDACTED:<profile>]` where the profile's action is
`redact`. It stops scanning after `MAX_SCAN_CHARS` characters of strings and keys or below
`MAX_DEPTH` levels; what it did not read is reported as `overflow`, and the policy decides
(`engine.dlp.policy`: a profile that blocks or redacts refuses the call, since it cannot vouch
for text it did not read). So time and memory are linear in the size of the arguments and
bounded by the caps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from engine.dlp.text import Detector, Hits

Action = Literal["block", "redact", "log"]
MAX_SCAN_CHARS: Final = 1_048_576
"""Characters of string values and keys scanned per call; beyond them: `overflow`."""
MAX_DEPTH: Final = 64
"""Levels of nesting scanned; deeper values are `overflow` too."""
MAX_PATH_CHARS: Final = 200
_MIN_NUMBER: Final = 10**11
"""Integers this large are scanned as text: a card number may be sent as a JSON number."""


@dataclass(frozen=True)
class Finding:
    """A profile matched at a path (`issue.body`, `items[2]`); never the matched text."""

    profile: str
    path: str
    action: Action

    def to_json(self) -> dict[str, str]:
        return {"profile": self.profile, "path": self.path, "action": self.action}


@dataclass(frozen=True)
class Profile:
    id: str
    detector: Detector
    action: Action

    @property
    def marker(self) -> str:
        return f"[REDACTED:{self.id}]"


@dataclass
class Scan:
    """The outcome of one walk: the value to send, what matched where, what was not read."""

    value: Any
    findings: list[Finding] = field(default_factory=list)
    overflow: bool = False


def scan(value: Any, profiles: tuple[Profile, ...], root: str = "") -> Scan:
    """Walk `value` (JSON-like) with `profiles`; see the module docstring."""
    walk = _Walk(profiles)
    return walk.run(value, root)


class _Walk:
    def __init__(self, profiles: tuple[Profile, ...]) -> None:
        self.profiles = profiles
        self.left = MAX_SCAN_CHARS
        self.out = Scan(None)

    def run(self, value: Any, root: str) -> Scan:
        holder: list[Any] = [None]
        # Each entry: the value, its path, the field name it is under, and where to put the
        # value to send (a setter on its copied parent).
        stack: list[tuple[Any, str, str | None, int, Callable[[Any], None]]] = [
            (value, root, None, 0, lambda v: holder.__setitem__(0, v))
        ]
        while stack:
            item, path, key, depth, put = stack.pop()
            if isinstance(item, Mapping | list) and depth >= MAX_DEPTH:
                self.out.overflow = True
                put(item)
            elif isinstance(item, Mapping):
                put(self._mapping(item, path, depth, stack))
            elif isinstance(item, list):
                copy: list[Any] = [None] * len(item)
                put(copy)
                for i, child in enumerate(item):
                    stack.append((child, f"{path}[{i}]", None, depth + 1, _setter(copy, i)))
            elif isinstance(item, str):
                put(self._text(item, path, key))
            elif isinstance(item, int) and not isinstance(item, bool) and abs(item) >= _MIN_NUMBER:
                text = str(item)
                checked = self._text(text, path, key)
                put(item if checked == text else checked)
            else:
                put(item)
        self.out.value = holder[0]
        return self.out

    def _mapping(
        self,
        item: Mapping[Any, Any],
        path: str,
        depth: int,
        stack: list[tuple[Any, str, str | None, int, Callable[[Any], None]]],
    ) -> dict[Any, Any]:
        copy: dict[Any, Any] = {}
        for raw_key, child in item.items():
            name = str(raw_key)
            shown = self._text(name, _join(path, "<key>"), None)
            child_path = _join(path, name if shown == name else "<redacted key>")
            copy[shown] = None
            stack.append((child, child_path, name, depth + 1, _setter(copy, shown)))
        return copy

    def _text(self, text: str, path: str, key: str | None) -> str:
        if self.left <= 0:
            self.out.overflow = True
            return text
        if len(text) > self.left:
            self.out.overflow = True
            text_scanned = text[: self.left]
        else:
            text_scanned = text
        self.left -= len(text_scanned)
        result = text
        for profile in self.profiles:
            hits = profile.detector.find(text_scanned, key)
            if not hits:
                continue
            self.out.findings.append(Finding(profile.id, path[:MAX_PATH_CHARS], profile.action))
            if profile.action == "redact":
                result = _redact(result, hits, profile.marker)
        return result


def _redact(text: str, hits: Hits, marker: str) -> str:
    if hits.whole:
        return marker
    for match in sorted(hits.matches, key=len, reverse=True):
        text = text.replace(match, marker)
    return text


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _setter(container: Any, index: Any) -> Callable[[Any], None]:
    def put(value: Any) -> None:
        container[index] = value

    return put
