"""Portal configuration: pydantic models mirroring the public MCP-portal admin API fields.

Field names follow the Cloudflare MCP server portal admin API (`id`, `name`, `hostname`,
`description`, `allow_code_mode`, `servers[].server_id`, `default_disabled`, `updated_tools`,
`updated_prompts` with `name`, `enabled`, `server_alias`, `server_description`, `portal_alias`,
`portal_description`), so a portal exported from there moves over with few edits. The file
format is TOML. Every problem is reported with the path of the key that causes it.

Credentials are held by reference only: an environment variable name or a file path. A config
that seems to carry a secret literally is rejected.

Regenerate the committed JSON Schema with `python -m engine.config --schema >
engine/config.schema.json`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shutil
import sys
import sysconfig
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sandbox.limits import Limits

AuthType = Literal["unauthenticated", "bearer", "oauth"]

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
_ALIAS_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_SECRET_WORDS = frozenset(
    {"token", "secret", "password", "passwd", "apikey", "credential", "credentials", "pat"}
)
_REFERENCE_WORDS = frozenset({"file", "path", "env", "var", "dir", "url", "type"})
_SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key"), ("auth", "key")})
# Values this short are flags ("1", "true"), not credentials.
_MIN_SECRET_LEN = 8
DEFAULT_OUTPUT_CAP_CHARS = 24_000
_DEFAULT_LIMITS = Limits()


# --------------------------------------------------------------------------- errors


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


class CredentialError(Exception):
    """A referenced credential cannot be read. The message never contains the secret.

    `missing` is true when the variable or file is absent or unreadable here, which may be
    fine at run time (set by the service manager, mounted later); false when it is there and
    holds something unusable."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


class CommandError(Exception):
    """A stdio server's command cannot be started: not found, not executable, or its `cwd`
    is not a directory (`key` names which). The message says what was searched."""

    def __init__(self, message: str, key: str = "command") -> None:
        super().__init__(message)
        self.key = key


class _Problems(ValueError):
    """Raised inside validators to report problems at sub-paths of the model being validated."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in self.problems))


def _looks_like_secret_name(key: str) -> bool:
    parts = [p for p in re.split(r"[_\-.\s]+|(?<=[a-z])(?=[A-Z])", key) if p]
    parts = [p.lower() for p in parts]
    if any(p in _REFERENCE_WORDS for p in parts):
        return False  # names a place holding the secret (`token_file`), not the secret
    if any(p in _SECRET_WORDS for p in parts):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(parts))


def _looks_like_literal_secret(key: str, value: object) -> bool:
    return (
        _looks_like_secret_name(key)
        and isinstance(value, str)
        and len(value) >= _MIN_SECRET_LEN
        and _ENV_REF.match(value) is None
    )


_SECRET_HINT = (
    "looks like a secret written into the config; keep credentials out of it: put the secret "
    "in an environment variable or a file and reference it with bearer_token_env or "
    'bearer_token_file (for a stdio server\'s environment, write "${VAR}" to pass a variable '
    "of the gateway's environment)"
)


# --------------------------------------------------------------------------- models


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _resolve_path(
    value: str | None, info: ValidationInfo, fallback: Path | None = None
) -> str | None:
    """Relative paths in a config file are relative to that file's directory; in a config
    without one (no `base_dir`), relative to `fallback` if given, else left as they are."""
    base = info.context.get("base_dir") if isinstance(info.context, dict) else None
    base = base if base is not None else fallback
    if value is None or base is None or value == ":memory:" or os.path.isabs(value):
        return value
    return str(Path(base) / value)


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where files of a config without a directory of its own go (its request log):
    `$XDG_STATE_HOME/codemode`, by default `~/.local/state/codemode` (`%LOCALAPPDATA%\\codemode`
    on Windows); a temporary directory when there is no home."""
    env = os.environ if environ is None else environ
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "codemode"
    if env.get("XDG_STATE_HOME", "").startswith("/"):
        return Path(env["XDG_STATE_HOME"]) / "codemode"
    try:
        return Path.home() / ".local" / "state" / "codemode"
    except RuntimeError:  # no HOME and no passwd entry
        return Path(tempfile.gettempdir()) / "codemode"


class Override(_Strict):
    """Curation of one upstream tool or prompt. Portal-level entries beat server-level ones."""

    name: str = Field(min_length=1, description="The upstream name this entry applies to.")
    enabled: bool | None = Field(
        default=None, description="Force on or off; unset follows default_disabled."
    )
    server_alias: str | None = Field(default=None, pattern=_ALIAS_PATTERN)
    """Name to expose instead of the upstream one (still prefixed `<server_id>_`)."""
    server_description: str | None = None
    """Description to expose instead of the upstream one."""
    portal_alias: str | None = Field(default=None, pattern=_ALIAS_PATTERN)
    """Like server_alias, and wins over it."""
    portal_description: str | None = None
    """Like server_description, and wins over it."""


class ToolOverride(Override):
    pass


class PromptOverride(Override):
    pass


def _duplicate_names(entries: Sequence[Override], field: str) -> list[tuple[str, str]]:
    first: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    for i, entry in enumerate(entries):
        if entry.name in first:
            problems.append(
                (
                    f"{field}[{i}].name",
                    f"duplicate entry for {entry.name!r} (first at {field}[{first[entry.name]}])",
                )
            )
        first.setdefault(entry.name, i)
    return problems


def _url_problem(url: str) -> str | None:
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


class ServerConfig(_Strict):
    """One upstream MCP server: streamable HTTP (`url`) or stdio (`command`)."""

    id: str = Field(max_length=32, pattern=_ID_PATTERN)
    """Server id: the `<server_id>_` prefix of its tools' names."""
    name: str = Field(default="", max_length=350)
    description: str = Field(default="", max_length=512)
    url: str | None = Field(default=None, description="Streamable HTTP endpoint of the server.")
    command: str | None = Field(default=None, description="Program to start for a stdio server.")
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(
        default_factory=dict,
        description='Environment of a stdio server; a value "${VAR}" is read from the '
        "gateway's environment at start.",
    )
    cwd: str | None = None
    """Working directory of a stdio server (relative to the config file)."""
    auth_type: AuthType = "unauthenticated"
    """How the gateway authenticates to the server (`oauth` is accepted, not yet connected)."""
    bearer_token_env: str | None = None
    """Name of the environment variable holding the bearer token (never the token itself)."""
    bearer_token_file: str | None = None
    """Path of a file holding the bearer token."""
    default_disabled: bool = False
    """New tools and prompts of this server start disabled."""
    call_timeout_s: float = Field(default=60.0, gt=0)
    """Seconds one upstream tool call may take."""
    sync_interval_s: float = Field(default=24 * 3600.0, gt=0)
    """Seconds between two syncs of the tool and prompt lists."""
    connect_timeout_s: float = Field(default=30.0, gt=0)
    """Seconds to connect and list capabilities."""
    updated_tools: list[ToolOverride] = Field(default_factory=list)
    """Server-level curation of tools."""
    updated_prompts: list[PromptOverride] = Field(default_factory=list)
    """Server-level curation of prompts."""

    @field_validator("bearer_token_file", "cwd")
    @classmethod
    def _relative_to_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _resolve_path(value, info)

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = [
            *self._transport_problems(),
            *self._auth_problems(),
            *_duplicate_names(self.updated_tools, "updated_tools"),
            *_duplicate_names(self.updated_prompts, "updated_prompts"),
        ]
        if problems:
            raise _Problems(problems)
        return self

    def _transport_problems(self) -> list[tuple[str, str]]:
        if (self.url is None) == (self.command is None):
            both = "both are set" if self.url else "neither is set"
            return [
                (
                    "",
                    "set exactly one of url (streamable HTTP) or command (stdio); " + both,
                )
            ]
        if self.url is None:
            return []
        problems: list[tuple[str, str]] = []
        url_problem = _url_problem(self.url)
        if url_problem:
            problems.append(("url", url_problem))
        for name in ("args", "env", "cwd"):
            if getattr(self, name):
                problems.append((name, "applies to stdio servers (command) only, not to url"))
        return problems

    def _auth_problems(self) -> list[tuple[str, str]]:
        refs = {
            k: v
            for k, v in (
                ("bearer_token_env", self.bearer_token_env),
                ("bearer_token_file", self.bearer_token_file),
            )
            if v is not None
        }
        if self.auth_type != "bearer":
            return [
                (k, f'needs auth_type = "bearer" (auth_type is {self.auth_type!r})') for k in refs
            ]
        if self.url is None:
            return [
                (
                    "auth_type",
                    "bearer auth applies to url servers; pass a stdio server its token with "
                    'env = { NAME = "${VAR}" }',
                )
            ]
        if len(refs) != 1:
            return [
                (
                    "auth_type",
                    "bearer auth needs exactly one of bearer_token_env (an environment variable "
                    "name) or bearer_token_file (a file path)",
                )
            ]
        if self.bearer_token_env is not None and not _ENV_NAME.match(self.bearer_token_env):
            return [
                (
                    "bearer_token_env",
                    "must be the NAME of an environment variable (letters, digits, _), "
                    "not the token itself",
                )
            ]
        return []

    @field_validator("env")
    @classmethod
    def _no_secret_in_env(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [(k, _SECRET_HINT) for k, v in value.items() if _looks_like_literal_secret(k, v)]
        if bad:
            raise _Problems(bad)
        return value

    @field_validator("args")
    @classmethod
    def _no_secret_in_args(cls, value: list[str]) -> list[str]:
        bad = [
            (f"[{i}]", _SECRET_HINT)
            for i, arg in enumerate(value)
            if arg.startswith("-") and "=" in arg and _looks_like_literal_secret(*arg.split("=", 1))
        ]
        if bad:
            raise _Problems(bad)
        return value

    @field_validator("url")
    @classmethod
    def _no_secret_in_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.password or any(
            _looks_like_literal_secret(k, v) for k, v in parse_qsl(parts.query)
        ):
            raise ValueError(_SECRET_HINT)
        return value


class PortalServer(_Strict):
    """A server as one portal uses it, with that portal's tool and prompt curation."""

    server_id: str = Field(max_length=32, pattern=_ID_PATTERN)
    """Id of an entry in [[servers]]."""
    default_disabled: bool | None = Field(
        default=None, description="Overrides the server's default_disabled in this portal."
    )
    updated_tools: list[ToolOverride] = Field(default_factory=list)
    """Portal-level curation of this server's tools; beats the server-level entries."""
    updated_prompts: list[PromptOverride] = Field(default_factory=list)
    """Portal-level curation of this server's prompts; beats the server-level entries."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = _duplicate_names(self.updated_tools, "updated_tools")
        problems += _duplicate_names(self.updated_prompts, "updated_prompts")
        if problems:
            raise _Problems(problems)
        return self


class PortalConfig(_Strict):
    """One portal: a set of upstream servers served on one endpoint."""

    id: str = Field(max_length=32, pattern=_ID_PATTERN)
    name: str = Field(default="", max_length=350)
    hostname: str | None = Field(
        default=None,
        description="Host name the portal answers on (Host header), e.g. mcp.example.com.",
    )
    description: str = Field(default="", max_length=512)
    allow_code_mode: bool = True
    """Offer the code-running surfaces (`code`, `execute`) on this portal."""
    servers: list[PortalServer] = Field(default_factory=list)
    api_keys: list[str] = Field(
        default_factory=list,
        description="SHA-256 hex digests of the API keys clients may use (never the keys).",
    )
    api_keys_file: str | None = Field(
        default=None, description="File with one SHA-256 hex digest of an API key per line."
    )

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value is not None and not _HOSTNAME.match(value):
            raise ValueError("must be a host name such as mcp.example.com (no scheme, no path)")
        return value

    @field_validator("api_keys")
    @classmethod
    def _hashes_only(cls, value: list[str]) -> list[str]:
        bad = [
            (
                f"[{i}]",
                "must be the SHA-256 hex digest of a key, not the key; compute it with "
                'python -c "import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode())'
                '.hexdigest())" KEY',
            )
            for i, digest in enumerate(value)
            if not _SHA256_HEX.match(digest)
        ]
        if bad:
            raise _Problems(bad)
        return value

    @field_validator("api_keys_file")
    @classmethod
    def _relative_to_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _resolve_path(value, info)

    @model_validator(mode="after")
    def _check(self) -> Self:
        seen: dict[str, int] = {}
        problems: list[tuple[str, str]] = []
        for i, ref in enumerate(self.servers):
            if ref.server_id in seen:
                problems.append(
                    (
                        f"servers[{i}].server_id",
                        f"server {ref.server_id!r} is already in this portal "
                        f"(servers[{seen[ref.server_id]}])",
                    )
                )
            seen.setdefault(ref.server_id, i)
        if problems:
            raise _Problems(problems)
        return self

    @property
    def requires_api_key(self) -> bool:
        return bool(self.api_keys) or self.api_keys_file is not None


class SandboxSettings(_Strict):
    """Limits of one `code`/`execute` run (see sandbox.Limits) and the output cap."""

    timeout_s: float = Field(default=_DEFAULT_LIMITS.timeout_s, gt=0)
    cpu_s: float = Field(default=_DEFAULT_LIMITS.cpu_s, gt=0)
    memory_bytes: int = Field(default=_DEFAULT_LIMITS.memory_bytes, gt=0)
    store_memory_bytes: int = Field(default=_DEFAULT_LIMITS.store_memory_bytes, gt=0)
    max_calls: int = Field(default=_DEFAULT_LIMITS.max_calls, gt=0)
    max_concurrent_calls: int = Field(default=_DEFAULT_LIMITS.max_concurrent_calls, gt=0)
    max_code_bytes: int = Field(default=_DEFAULT_LIMITS.max_code_bytes, gt=0)
    max_args_bytes: int = Field(default=_DEFAULT_LIMITS.max_args_bytes, gt=0)
    max_result_bytes: int = Field(default=_DEFAULT_LIMITS.max_result_bytes, gt=0)
    max_log_bytes: int = Field(default=_DEFAULT_LIMITS.max_log_bytes, gt=0)
    output_cap_chars: int = Field(
        default=DEFAULT_OUTPUT_CAP_CHARS,
        gt=0,
        description="Characters of a run's output returned to the agent; the rest is cut "
        "with a notice.",
    )

    def to_limits(self) -> Limits:
        fields = self.model_dump(exclude={"output_cap_chars"})
        return Limits(**fields)


class Settings(_Strict):
    request_log_path: str | None = Field(
        default="codemode-logs.sqlite3",
        validate_default=True,
        description="SQLite file of the request log, relative to the config file's directory "
        "(a config without a file: the user state directory, ~/.local/state/codemode); "
        '":memory:" (or None from Python) keeps it in memory only.',
    )
    request_log_jsonl_path: str | None = Field(
        default=None,
        description="Also append each request log entry to this JSON-lines file (relative "
        "like request_log_path).",
    )
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)

    @field_validator("request_log_path", "request_log_jsonl_path")
    @classmethod
    def _relative_to_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Never the working directory: a client may start codemode in `/`.
        return _resolve_path(value, info, fallback=state_dir())


class Config(_Strict):
    """A whole config file: upstream servers, the portals built from them, and settings."""

    servers: list[ServerConfig] = Field(default_factory=list)
    portals: list[PortalConfig] = Field(default_factory=list)
    settings: Settings = Field(default_factory=Settings)

    @model_validator(mode="before")
    @classmethod
    def _settings_in_context(cls, data: Any) -> Any:
        # A missing [settings] is validated like an empty one, so its default paths resolve
        # against the config's directory (a default_factory would not see the context).
        if isinstance(data, Mapping) and "settings" not in data:
            return {**data, "settings": {}}
        return data

    @model_validator(mode="after")
    def _cross_check(self) -> Self:
        problems = cross_problems(self.model_dump())
        if problems:
            raise _Problems(problems)
        return self

    def server(self, server_id: str) -> ServerConfig:
        for server in self.servers:
            if server.id == server_id:
                return server
        raise KeyError(server_id)

    def portal(self, portal_id: str) -> PortalConfig:
        for portal in self.portals:
            if portal.id == portal_id:
                return portal
        raise KeyError(portal_id)

    def portal_servers(self, portal: PortalConfig) -> list[tuple[PortalServer, ServerConfig]]:
        return [(ref, self.server(ref.server_id)) for ref in portal.servers]

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, source: str = "", base_dir: str | Path | None = None
    ) -> Config:
        """Validate plain data; raise ConfigError listing every problem with its key path."""
        context = {"base_dir": str(base_dir)} if base_dir is not None else {}
        try:
            # Strict: TOML has real booleans and numbers, so `allow_code_mode = "yes"` or
            # `cpu_s = "1"` is a mistake to report, not a string to coerce.
            return cls.model_validate(dict(data), context=context, strict=True)
        except ValidationError as exc:
            problems = problems_from(exc)
            # Cross-entry checks only run once every entry is valid: run them on the raw data
            # so one pass reports everything.
            extra = [ConfigProblem(p, m) for p, m in cross_problems(data)]
            problems += [p for p in extra if p not in problems]
            raise ConfigError(problems, source) from None

    @classmethod
    def load(cls, path: str | Path) -> Config:
        """Read a TOML config file. Relative paths in it are relative to its directory."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(
                [ConfigProblem("", f"cannot read: {exc.strerror}")], str(path)
            ) from None
        except UnicodeDecodeError:
            raise ConfigError([ConfigProblem("", "is not UTF-8 text")], str(path)) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([ConfigProblem("", f"invalid TOML: {exc}")], str(path)) from None
        return cls.from_dict(data, source=str(path), base_dir=path.resolve().parent)


def _items(data: Mapping[str, Any], key: str) -> list[tuple[int, Mapping[str, Any]]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, Mapping)]


def cross_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Checks across entries: unique ids and hostnames, portal references to known servers.

    Works on raw data too, so these problems are reported alongside per-field ones.
    """
    servers = _items(data, "servers")
    portals = _items(data, "portals")
    problems = _duplicates(servers, "servers", "id", "server id")
    problems += _duplicates(portals, "portals", "id", "portal id")
    problems += _duplicates(portals, "portals", "hostname", "hostname", fold=True)
    if not isinstance(data.get("servers", []), list):
        return problems  # references cannot be checked against a malformed server list
    known = sorted({s["id"] for _, s in servers if isinstance(s.get("id"), str)})
    for i, portal in portals:
        for j, ref in _items(portal, "servers"):
            server_id = ref.get("server_id")
            if isinstance(server_id, str) and server_id not in known:
                problems.append(
                    (
                        f"portals[{i}].servers[{j}].server_id",
                        f"no server with id {server_id!r} in [[servers]]"
                        + (f" (known: {', '.join(known)})" if known else ""),
                    )
                )
    return problems


def _duplicates(
    entries: list[tuple[int, Mapping[str, Any]]],
    field: str,
    key: str,
    what: str,
    *,
    fold: bool = False,
) -> list[tuple[str, str]]:
    first: dict[str, int] = {}
    problems = []
    for i, entry in entries:
        value = entry.get(key)
        if not isinstance(value, str):
            continue
        folded = value.lower() if fold else value
        if folded in first:
            problems.append(
                (
                    f"{field}[{i}].{key}",
                    f"duplicate {what} {value!r} (first at {field}[{first[folded]}])",
                )
            )
        first.setdefault(folded, i)
    return problems


# --------------------------------------------------------------------------- error paths


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
        if isinstance(cause, _Problems):
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
    ("on_behalf", "secure_web_gateway", "is_shared_oauth_callback_enabled"),
)
_KEY_HINTS: dict[str, str] = {
    "hostname": 'unknown key; a server\'s address is "url" (the admin API calls it hostname)',
    "id": 'unknown key; a portal\'s server entry names its server with "server_id"',
    **{key: f"unknown key; {_READ_ONLY[0]}" for key in _READ_ONLY[1]},
    **{key: f"unknown key; {_UNSUPPORTED[0]}" for key in _UNSUPPORTED[1]},
}


def _unknown_key(loc: Sequence[int | str], value: object) -> str:
    key = str(loc[-1]) if loc else ""
    if _looks_like_literal_secret(key, value):
        return _SECRET_HINT
    return _KEY_HINTS.get(key, "unknown key")


def _join(base: str, sub: str) -> str:
    if not sub:
        return base
    if not base or sub.startswith("["):
        return base + sub
    return f"{base}.{sub}"


# --------------------------------------------------------------------------- credentials


def read_secret(server: ServerConfig, environ: Mapping[str, str] | None = None) -> str:
    """The bearer token of `server`, read now from the referenced variable or file."""
    env = os.environ if environ is None else environ
    who = f"server {server.id!r}"
    if server.auth_type != "bearer":
        raise CredentialError(f"{who}: auth_type is {server.auth_type!r}, it has no bearer token")
    if server.bearer_token_env is not None:
        name = server.bearer_token_env
        if name not in env:
            raise CredentialError(
                f"{who}: environment variable {name} (bearer_token_env) is not set",
                missing=True,
            )
        return _checked_token(env[name], f"{who}: environment variable {name} (bearer_token_env)")
    assert server.bearer_token_file is not None  # guaranteed by ServerConfig validation
    where = f"{who}: bearer_token_file {server.bearer_token_file}"
    try:
        text = Path(server.bearer_token_file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CredentialError(f"{where} does not exist", missing=True) from None
    except OSError as exc:
        raise CredentialError(f"{where} cannot be read: {exc.strerror}", missing=True) from None
    except UnicodeDecodeError:
        raise CredentialError(f"{where} is not UTF-8 text") from None
    return _checked_token(text, where)


def _checked_token(raw: str, where: str) -> str:
    token = raw.strip()
    if not token:
        raise CredentialError(f"{where} is empty")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in token):
        raise CredentialError(
            f"{where} holds whitespace or control characters inside the token; "
            "it must hold the token alone"
        )
    return token


def resolve_env(server: ServerConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A stdio server's `env` with each "${VAR}" value read from the gateway's environment."""
    source = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for key, value in server.env.items():
        ref = _ENV_REF.match(value)
        if ref is None:
            out[key] = value
        elif ref.group(1) in source:
            out[key] = source[ref.group(1)]
        else:
            raise CredentialError(
                f"server {server.id!r}: env.{key} refers to environment variable "
                f"{ref.group(1)}, which is not set",
                missing=True,
            )
    return out


def hash_api_key(key: str) -> str:
    """The form an API key takes in `api_keys`: its SHA-256 hex digest."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def api_key_hashes(portal: PortalConfig) -> frozenset[str]:
    """Digests from `api_keys` plus those in `api_keys_file` (one per line, `#` comments)."""
    digests = set(portal.api_keys)
    if portal.api_keys_file is None:
        return frozenset(digests)
    where = f"portal {portal.id!r}: api_keys_file {portal.api_keys_file}"
    try:
        lines = Path(portal.api_keys_file).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CredentialError(f"{where} cannot be read: {exc.strerror}", missing=True) from None
    for number, line in enumerate(lines, start=1):
        digest = line.split("#", 1)[0].strip().lower()
        if not digest:
            continue
        if not _SHA256_HEX.match(digest):
            raise CredentialError(f"{where}, line {number}: not a SHA-256 hex digest")
        digests.add(digest)
    return frozenset(digests)


# --------------------------------------------------------------------------- commands


def scripts_dirs() -> list[str]:
    """The directories of the environment codemode runs in that hold its programs: where
    `codemode` itself and the MCP servers installed beside it (`mcp-server-time`) are."""
    dirs: list[str] = []
    for folder in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        if folder and folder not in dirs:
            dirs.append(folder)
    return dirs


def resolve_command(server: ServerConfig, environ: Mapping[str, str] | None = None) -> str:
    """The program a stdio server starts, or CommandError saying what was searched.

    A command naming a path is taken as is (relative to the server's `cwd`). A bare name is
    looked up on the server's PATH (its `env` PATH, else the gateway's), then in codemode's
    own scripts directory, so servers installed beside codemode start without activating
    its environment."""
    source = os.environ if environ is None else environ
    command = server.command
    if not command:
        raise CommandError(f"server {server.id!r} has no command (it is a url server)")
    cwd = server.cwd
    if cwd is not None and not os.path.isdir(cwd):
        raise CommandError(f"cannot start {command}: its cwd {cwd} is not a directory", "cwd")
    if os.sep in command or (os.altsep is not None and os.altsep in command):
        path = os.path.join(cwd or os.getcwd(), command)
        if not os.path.exists(path):
            raise CommandError(f"cannot start {command}: command not found (no file {path})")
        if os.path.isdir(path) or not os.access(path, os.X_OK):
            raise CommandError(f"cannot start {command}: {path} is not an executable file")
        return command
    try:
        child_env = resolve_env(server, source)
    except CredentialError:
        child_env = {}  # reported on its own; the lookup goes on with the gateway's PATH
    search = child_env.get("PATH", source.get("PATH", os.defpath))
    extra = [d for d in scripts_dirs() if d not in search.split(os.pathsep)]
    found = shutil.which(command, path=os.pathsep.join([search, *extra]))
    if found is None:
        also = f" or in codemode's scripts directory {os.pathsep.join(extra)}" if extra else ""
        raise CommandError(f"cannot start {command}: command not found on PATH={search}{also}")
    return found


# --------------------------------------------------------------------------- environment


def environment_problems(
    config: Config, environ: Mapping[str, str] | None = None
) -> tuple[list[ConfigProblem], list[ConfigProblem]]:
    """What the config refers to outside itself, checked here and now, as (errors, warnings).

    Warnings are things that are missing here but may be there at run time: a command not
    on this PATH, an unset variable, an absent file, a request log that cannot be created.
    Errors are things that are there and unusable (an empty token file, a malformed
    api_keys_file)."""
    env = os.environ if environ is None else environ
    errors: list[ConfigProblem] = []
    warnings: list[ConfigProblem] = []

    def add(path: str, exc: CredentialError) -> None:
        message = re.sub(r"^(server|portal) '[^']*': ", "", str(exc))
        (warnings if exc.missing else errors).append(ConfigProblem(path, message))

    for i, server in enumerate(config.servers):
        where = f"servers[{i}]"
        if server.command is not None:
            try:
                resolve_command(server, env)
            except CommandError as exc:
                warnings.append(ConfigProblem(f"{where}.{exc.key}", str(exc)))
        for key, value in server.env.items():
            ref = _ENV_REF.match(value)
            if ref is not None and ref.group(1) not in env:
                warnings.append(
                    ConfigProblem(
                        f"{where}.env.{key}", f"environment variable {ref.group(1)} is not set"
                    )
                )
        if server.auth_type == "bearer" and server.url is not None:
            key = "bearer_token_env" if server.bearer_token_env else "bearer_token_file"
            try:
                read_secret(server, env)
            except CredentialError as exc:
                add(f"{where}.{key}", exc)
    for i, portal in enumerate(config.portals):
        try:
            api_key_hashes(portal)
        except CredentialError as exc:
            add(f"portals[{i}].api_keys_file", exc)
    for key in ("request_log_path", "request_log_jsonl_path"):
        target = getattr(config.settings, key)
        problem = _unwritable(target) if target not in (None, ":memory:") else None
        if problem:
            warnings.append(ConfigProblem(f"settings.{key}", f"{target} {problem}"))
    return errors, warnings


def _unwritable(target: str) -> str | None:
    """Why the file `target` could not be created or appended to here, without creating it."""
    path = Path(target)
    if path.is_dir():
        return "is a directory"
    if path.exists():
        return None if os.access(path, os.W_OK) else "is not writable"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot be created: {parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot be created: {parent} is not writable"
    return None


# --------------------------------------------------------------------------- schema


def json_schema() -> dict[str, Any]:
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "codemode config"
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str]) -> int:
    if list(argv) == ["--schema"]:
        sys.stdout.write(schema_text())
        return 0
    if len(argv) == 2 and argv[0] == "--check":
        try:
            Config.load(argv[1])
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"{argv[1]}: ok")
        return 0
    print("usage: python -m engine.config --schema | --check PATH", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
