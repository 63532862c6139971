"""Data-loss prevention in the config: `[[dlp_custom_profiles]]`, and the checks across entries
for `dlp_profiles` of servers and portals. `engine.dlp` applies them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, Self

import regex
from pydantic import Field, field_validator, model_validator

from engine.config_base import ID_PATTERN, StrictModel
from engine.config_errors import Problems

DlpAction = Literal["block", "redact", "log"]
PREDEFINED_PROFILES: Final = ("credentials_and_secrets", "financial_information")
MAX_PATTERN_CHARS: Final = 1000


class DlpCustomProfile(StrictModel):
    """A profile of your own: regular expressions and keywords to look for."""

    id: str = Field(max_length=64, pattern=ID_PATTERN)
    """Named in `dlp_profiles = [...]` of servers and portals, in errors and the request log."""
    description: str = Field(default="", max_length=512)
    patterns: list[str] = Field(default_factory=list)
    """Regular expressions (Python `regex` syntax), matched anywhere in each string; one that
    runs out of time (catastrophic backtracking) counts as a match."""
    keywords: list[str] = Field(default_factory=list)
    """Words or phrases matched case-insensitively as whole words (literal text)."""

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        problems: list[tuple[str, str]] = []
        for i, pattern in enumerate(value):
            if not pattern or len(pattern) > MAX_PATTERN_CHARS:
                problems.append((f"[{i}]", f"must be 1 to {MAX_PATTERN_CHARS} characters"))
                continue
            try:
                compiled = regex.compile(pattern, regex.VERSION1)
            except regex.error as exc:
                problems.append((f"[{i}]", f"is not a valid regular expression: {exc}"))
                continue
            if compiled.match(""):
                problems.append((f"[{i}]", "matches the empty string, so it would match anywhere"))
        if problems:
            raise Problems(problems)
        return value

    @field_validator("keywords")
    @classmethod
    def _not_blank(cls, value: list[str]) -> list[str]:
        bad = [(f"[{i}]", "must not be blank") for i, k in enumerate(value) if not k.strip()]
        if bad:
            raise Problems(bad)
        return value

    @model_validator(mode="after")
    def _something(self) -> Self:
        problems: list[tuple[str, str]] = []
        if not self.patterns and not self.keywords:
            problems.append(("", "give patterns, keywords or both"))
        if self.id in PREDEFINED_PROFILES:
            problems.append(("id", f"{self.id!r} is a predefined profile; choose another id"))
        if problems:
            raise Problems(problems)
        return self


def dlp_reference_problems(
    data: Mapping[str, Any],
    servers: list[tuple[int, Mapping[str, Any]]],
    portals: list[tuple[int, Mapping[str, Any]]],
) -> list[tuple[str, str]]:
    """Unique custom profile ids; every id in `dlp_profiles` names a predefined or custom one."""
    raw = data.get("dlp_custom_profiles", [])
    custom = [(i, p) for i, p in enumerate(raw if isinstance(raw, list) else [])]
    ids: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    for i, profile in custom:
        pid = profile.get("id") if isinstance(profile, Mapping) else None
        if isinstance(pid, str) and pid in ids:
            where = f"dlp_custom_profiles[{i}].id"
            problems.append((where, f"duplicate profile id {pid!r} (first at [{ids[pid]}])"))
        elif isinstance(pid, str):
            ids[pid] = i
    known = [*PREDEFINED_PROFILES, *ids]
    for field, entries in (("servers", servers), ("portals", portals)):
        for i, entry in entries:
            refs = entry.get("dlp_profiles")
            if not isinstance(refs, list):
                continue
            for j, ref in enumerate(refs):
                if isinstance(ref, str) and ref not in known:
                    problems.append(
                        (
                            f"{field}[{i}].dlp_profiles[{j}]",
                            f"no DLP profile {ref!r} (known: {', '.join(known)})",
                        )
                    )
    return problems
