"""What every detector shares: a finding in one string, the fail-closed marker, and how long
lines are cut into windows so that no detector's regular expression sees more than a bounded
stretch of text (some of detect-secrets' patterns are quadratic on a long line).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Protocol

WINDOW_CHARS: Final = 4000
"""A string longer than this is scanned in windows of this size (detect-secrets' Azure check
reads at most 4,000 characters of context)..."""
WINDOW_OVERLAP: Final = 512
"""...overlapping by this much, so a secret shorter than the overlap is seen whole in one."""


@dataclass(frozen=True)
class Hits:
    """What one detector found in one string: the matched substrings (to redact), or
    `whole`: the string could not be checked (a custom pattern ran out of time) and is treated
    as matched in full, so a slow pattern fails closed rather than letting text through."""

    matches: tuple[str, ...] = ()
    whole: bool = False

    def __bool__(self) -> bool:
        return self.whole or bool(self.matches)


NO_HITS: Final = Hits()


class Detector(Protocol):
    """One profile's check of one string. `key` is the name of the field holding it (None
    inside a list or for a key itself): some detectors only fire in secret-looking fields."""

    def find(self, text: str, key: str | None) -> Hits: ...


def windows(text: str) -> Iterator[str]:
    """`text` whole if short, else cut into overlapping windows: linear time overall."""
    if len(text) <= WINDOW_CHARS:
        yield text
        return
    step = WINDOW_CHARS - WINDOW_OVERLAP
    for start in range(0, len(text) - WINDOW_OVERLAP, step):
        yield text[start : start + WINDOW_CHARS]
