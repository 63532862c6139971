"""Custom profiles (`[[dlp_custom_profiles]]`): the admin's regular expressions and keywords.

Patterns are the admin's, so one may backtrack catastrophically (`(a+)+$`). They run on the
`regex` module, which can stop a match after a timeout: each search gets what is left of
`PATTERN_BUDGET_S` for the whole call, and a search that runs out fails closed: the string
counts as matched in full (blocked, or redacted whole), never as clean. A pattern that does
not compile is a config error naming it (`engine.config_dlp`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cache
from typing import Final

import regex

from engine.dlp.text import NO_HITS, Hits

PATTERN_BUDGET_S: Final = 0.05
"""Seconds all of one custom profile's patterns may take over one call's arguments."""


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """Compile an admin's pattern (raises `regex.error` with the reason)."""
    return regex.compile(pattern, regex.VERSION1)


def keywords_pattern(keywords: Sequence[str]) -> regex.Pattern[str] | None:
    """Keywords as one case-insensitive whole-word pattern (literal text, never a regex)."""
    words = [k for k in keywords if k]
    if not words:
        return None
    escaped = "|".join(regex.escape(k) for k in sorted(words, key=len, reverse=True))
    return regex.compile(rf"(?<!\w)(?:{escaped})(?!\w)", regex.IGNORECASE)


class Budget:
    """What is left of a profile's time for one call's arguments."""

    def __init__(self, seconds: float = PATTERN_BUDGET_S) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()


@cache
def _compiled(
    patterns: tuple[str, ...], keywords: tuple[str, ...]
) -> tuple[regex.Pattern[str], ...]:
    compiled = [compile_pattern(p) for p in patterns]
    words = keywords_pattern(keywords)
    return (*compiled, words) if words is not None else tuple(compiled)


class CustomProfile:
    """One `[[dlp_custom_profiles]]` entry for one call: made per call (the patterns are
    compiled once), so its time budget starts anew and one slow call does not spend the
    next one's."""

    def __init__(self, patterns: tuple[str, ...], keywords: tuple[str, ...]) -> None:
        self._patterns = _compiled(patterns, keywords)
        self._budget = Budget()

    def find(self, text: str, key: str | None) -> Hits:
        found: list[str] = []
        for pattern in self._patterns:
            left = self._budget.left()
            if left <= 0:
                return Hits(whole=True)
            try:
                found += [m.group() for m in pattern.finditer(text, timeout=left) if m.group()]
            except TimeoutError:
                return Hits(whole=True)
        return Hits(tuple(dict.fromkeys(found))) if found else NO_HITS
