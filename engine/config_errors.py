"""How a config's problems are reported: each with the path of the key that causes it, in
TOML terms, with a hint where a likely mistake has one (a key of an exported Cloudflare portal
that has no place here, a secret written into the file)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from engine.credentials import SECRET_HINT, looks_like_literal_secret


@dataclass(frozen=True)
class ConfigProblem:
    path: str
    """Path of the offending key, e.g. `portals[0].servers[1].updated_tools[0].alias`."""
    message: str

    def render(self, source: str) -> str:
        where = f"{source}: " if source else ""
        return f"{where}{self.path}: {self.message}" if self.path else f"{where}{self.message}"


class ConfigError(Exception):
    """A config that cannot be used. `problems` lists every problem found, each with its path."""

    def __init__(self, problems: Sequence[ConfigProblem], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__("\n".join(p.render(source) for p in self.problems))


class Problems(ValueError):
    """Raised inside validators to report problems at sub-paths of the model being validated."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in self.problems))


def format_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("["):
            out += part
        else:
            out += f".{part}" if out else part
    return out


def problems_from(exc: ValidationError) -> list[ConfigProblem]:
    """Turn pydantic's errors into ConfigProblems whose paths name the offending keys."""
    problems: list[ConfigProblem] = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if isinstance(p, int | str)]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, Problems):
            for sub, message in cause.problems:
                problems.append(ConfigProblem(_join(format_path(loc), sub), message))
        elif err["type"] == "extra_forbidden":
            problems.append(ConfigProblem(format_path(loc), _unknown_key(loc, err["input"])))
        elif err["type"] in _TYPE_MESSAGES:
            problems.append(ConfigProblem(format_path(loc), _TYPE_MESSAGES[err["type"]]))
        else:
            message = str(cause) if isinstance(cause, ValueError) else err["msg"]
            problems.append(ConfigProblem(format_path(loc), message))
    return problems


# Pydantic's wording names Python types; say it in TOML terms.
_TYPE_MESSAGES = {
    "missing": "required key is missing",
    "list_type": "must be a list (in TOML, one [[...]] block per entry, or [a, b])",
    "model_type": "must be a table ([...] or { key = value })",
    "dict_type": "must be a table ([...] or { key = value })",
}

# Keys of exported Cloudflare portal configs that have no place here, and what to do instead.
_READ_ONLY = (
    "is reported by the gateway (status API), not configured: remove it",
    (
        "created_at",
        "created_by",
        "modified_at",
        "modified_by",
        "last_synced",
        "last_successful_sync",
        "status",
        "error",
        "error_details",
        "tools",
        "prompts",
    ),
)
_UNSUPPORTED = (
    "is not supported here: remove it",
    ("on_behalf", "is_shared_oauth_callback_enabled"),
)
_KEY_HINTS: dict[str, str] = {
    "hostname": 'unknown key; a server\'s address is "url" (the admin API calls it hostname)',
    "id": 'unknown key; a portal\'s server entry names its server with "server_id"',
    **{key: f"unknown key; {_READ_ONLY[0]}" for key in _READ_ONLY[1]},
    **{key: f"unknown key; {_UNSUPPORTED[0]}" for key in _UNSUPPORTED[1]},
    "on_behalf": f"unknown key; {_UNSUPPORTED[0]} (it belongs on a portal's server entry: "
    'servers = [{ server_id = "...", on_behalf = true }])',
}


def _unknown_key(loc: Sequence[int | str], value: object) -> str:
    key = str(loc[-1]) if loc else ""
    if looks_like_literal_secret(key, value):
        return SECRET_HINT
    return _KEY_HINTS.get(key, "unknown key")


def _join(base: str, sub: str) -> str:
    if not sub:
        return base
    if not base or sub.startswith("["):
        return base + sub
    return f"{base}.{sub}"
