"""What every config model shares: strict models (unknown keys are errors, values frozen),
the id pattern, and how relative paths and key paths are resolved."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationInfo

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
"""Server, portal and policy ids (also in the admin API's OpenAPI document)."""
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class StrictModel(BaseModel):
    """A config table: unknown keys are errors; values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def join_path(base: str, sub: str) -> str:
    return base + (sub if not sub or sub.startswith("[") else f".{sub}")


def resolve_path(
    value: str | None, info: ValidationInfo, fallback: Path | None = None
) -> str | None:
    """Relative paths in a config file are relative to that file's directory; in a config
    without one (no `base_dir`), relative to `fallback` if given, else left as they are."""
    base = info.context.get("base_dir") if isinstance(info.context, dict) else None
    base = base if base is not None else fallback
    if value is None or base is None or value == ":memory:" or os.path.isabs(value):
        return value
    return str(Path(base) / value)


def url_problem(url: str) -> str | None:
    """Why `url` cannot be an upstream's endpoint, or None. urlsplit accepts almost anything,
    so the host and port are checked here rather than at the first connection attempt."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "must be an http:// or https:// URL"
    if not parts.hostname or any(c.isspace() or c in '<>"{}|\\^`' for c in url):
        return (
            'must be an http:// or https:// URL with a host name, no spaces and none of <>"{}|\\^`'
        )
    try:
        parts.port  # noqa: B018 (raises for a port that is not a number in 0-65535)
    except ValueError:
        return "has a port that is not a number between 0 and 65535"
    return None
