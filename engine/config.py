"""Portal configuration: pydantic models mirroring the public MCP-portal admin API fields.

Field names follow the Cloudflare MCP server portal admin API (`id`, `name`, `hostname`,
`description`, `allow_code_mode`, `servers[].server_id`, `default_disabled`, `updated_tools`,
`updated_prompts` with `name`, `enabled`, `server_alias`, `server_description`, `portal_alias`,
`portal_description`; our `updated_resources` has the same shape), so a portal exported from
there moves over with few edits. The file format is TOML. Every problem is reported with the
path of the key that causes it.

Credentials are held by reference only: an environment variable name or a file path. A config
that seems to carry a secret literally is rejected (`engine.credentials`). How problems are
worded is `engine.config_errors`; what a config refers to outside itself (commands, files,
variables) is checked by `engine.environment`. `[identity]` and `[[policies]]` are modelled in
`engine.config_access`; what every model shares is `engine.config_base`.

The models stay one module because they are one thing, the config file's schema: together they
are what `--schema` publishes and `engine.configdoc` documents, and the checks across entries
(`cross_problems`: unique ids, a portal naming a known server) read them all.

Regenerate the committed JSON Schema with `python -m engine.config --schema >
engine/config.schema.json`.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from engine.config_access import IdentityConfig as IdentityConfig
from engine.config_access import PolicyConfig as PolicyConfig
from engine.config_access import Selector as Selector
from engine.config_base import ENV_NAME, StrictModel, join_path, resolve_path, url_problem
from engine.config_base import ID_PATTERN as ID_PATTERN
from engine.config_dlp import DlpAction, dlp_reference_problems
from engine.config_dlp import DlpCustomProfile as DlpCustomProfile
from engine.config_errors import ConfigError as ConfigError
from engine.config_errors import ConfigProblem as ConfigProblem
from engine.config_errors import Problems, problems_from
from engine.credentials import (
    SECRET_HINT,
    SERVICE_NAME,
    SHA256_HEX,
    StoredCredentials,
    looks_like_literal_secret,
)
from engine.environment import state_dir
from sandbox.limits import Limits

AuthType = Literal["unauthenticated", "bearer", "oauth"]

_ALIAS_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
SERVICE_NAME_PATTERN = SERVICE_NAME.pattern
"""Names of API keys (no `:`: `key:<hex>` is the name of an unnamed key)."""
_NOT_A_HASH = (
    "must be the SHA-256 hex digest of a key, not the key; compute it with "
    'python -c "import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())" KEY'
)
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")
DEFAULT_OUTPUT_CAP_CHARS = 24_000
_DEFAULT_LIMITS = Limits()


# --------------------------------------------------------------------------- models


class Override(StrictModel):
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
    require_approval: bool | None = None
    """`true`: a person approves each call of this tool through their MCP client before it
    leaves the host (`engine.approval`). Approval adds up over the levels: any `true` (the
    tool's entry at either level, the server, the portal's server entry) asks."""


class PromptOverride(Override):
    pass


class ResourceOverride(Override):
    """Curation of one upstream resource or resource template, named by its upstream URI
    (`uri` of a resource, `uriTemplate` of a template). An alias or description replaces the
    `name` or `description` clients see; the URI itself is never renamed."""

    name: str = Field(
        min_length=1,
        description="The upstream URI (or URI template) this entry applies to.",
    )


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


class ServerConfig(StrictModel):
    """One upstream MCP server: streamable HTTP (`url`) or stdio (`command`)."""

    id: str = Field(max_length=32, pattern=ID_PATTERN)
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
    """How the gateway authenticates to the server (`oauth`: as an OAuth client, with the
    admin credential of `codemode auth <id>`)."""
    bearer_token_env: str | None = None
    """Name of the environment variable holding the bearer token (never the token itself)."""
    bearer_token_file: str | None = None
    """Path of a file holding the bearer token."""
    credentials: Literal["store"] | None = None
    """`"store"`: the bearer token (or static headers) was given through the admin API and is
    kept encrypted in the store, never in this file."""
    oauth_client_id: str | None = Field(default=None, max_length=255)
    """`oauth`: a client registered by hand at the server's authorization server (default:
    dynamic client registration)."""
    oauth_client_secret_env: str | None = None
    """`oauth`: name of the environment variable holding that client's secret."""
    oauth_client_secret_file: str | None = None
    """`oauth`: path of a file holding that client's secret."""
    oauth_scopes: str | None = Field(default=None, max_length=1024)
    """`oauth`: scopes to ask for, space-separated (default: what the server advertises)."""
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
    require_approval: bool = False
    """Every tool of this server needs a person's approval per call (see ToolOverride)."""
    updated_prompts: list[PromptOverride] = Field(default_factory=list)
    """Server-level curation of prompts."""
    updated_resources: list[ResourceOverride] = Field(default_factory=list)
    """Server-level curation of resources and resource templates (by upstream URI)."""
    policies: list[str] = Field(default_factory=list)
    """Ids of [[policies]] deciding who sees this server in any portal (empty: everyone who
    may enter the portal without [identity]; nobody with it)."""
    secure_web_gateway: bool = False
    """Send this server's HTTP traffic through `[settings] egress_proxy` (so does a portal
    listing it with `secure_web_gateway = true`)."""
    is_shared_oauth_callback_enabled: bool = False
    """Accepted from the admin API and returned; no effect here."""
    dlp_profiles: list[str] = Field(default_factory=list)
    """DLP profiles applied to the arguments of every call to this server's tools:
    `credentials_and_secrets`, `financial_information` or a [[dlp_custom_profiles]] id."""
    dlp_action: DlpAction = "block"
    """What a match of one of these profiles does: `block` (the call fails, naming the profile
    and argument path), `redact` (matches replaced by `[REDACTED:<profile>]` before sending)
    or `log` (sent, and recorded in the request log)."""
    dlp_scan_results: bool = False
    """Also apply these profiles, with the same action, to this server's tool results."""
    _stored_credentials: StoredCredentials | None = PrivateAttr(default=None)
    """The decrypted `credentials = "store"` secret, in memory only (never dumped)."""

    @property
    def stored_credentials(self) -> StoredCredentials | None:
        return self._stored_credentials

    def with_stored_credentials(self, secret: StoredCredentials | None) -> ServerConfig:
        """This server with its store-held secret attached (a copy)."""
        copy = self.model_copy()
        copy._stored_credentials = secret
        return copy

    @field_validator("bearer_token_file", "oauth_client_secret_file", "cwd")
    @classmethod
    def _relative_to_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        return resolve_path(value, info)

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = [
            *self._transport_problems(),
            *self._auth_problems(),
            *self._oauth_problems(),
            *_duplicate_names(self.updated_tools, "updated_tools"),
            *_duplicate_names(self.updated_prompts, "updated_prompts"),
            *_duplicate_names(self.updated_resources, "updated_resources"),
        ]
        if problems:
            raise Problems(problems)
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
        bad_url = url_problem(self.url)
        if bad_url:
            problems.append(("url", bad_url))
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
                ("credentials", self.credentials),
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
                    'name), bearer_token_file (a file path) or credentials = "store" (given '
                    "through the admin API)",
                )
            ]
        if self.bearer_token_env is not None and not ENV_NAME.match(self.bearer_token_env):
            return [
                (
                    "bearer_token_env",
                    "must be the NAME of an environment variable (letters, digits, _), "
                    "not the token itself",
                )
            ]
        return []

    def _oauth_problems(self) -> list[tuple[str, str]]:
        keys = ("oauth_client_id", "oauth_client_secret_env", "oauth_client_secret_file")
        given = [k for k in (*keys, "oauth_scopes") if getattr(self, k) is not None]
        if self.auth_type != "oauth":
            return [
                (k, f'needs auth_type = "oauth" (auth_type is {self.auth_type!r})') for k in given
            ]
        problems: list[tuple[str, str]] = []
        if self.url is None:
            problems.append(("auth_type", "oauth applies to url servers only"))
        secrets_given = [k for k in keys[1:] if getattr(self, k) is not None]
        if len(secrets_given) > 1:
            problems.append(("oauth_client_secret_env", "set one of _env or _file, not both"))
        if secrets_given and self.oauth_client_id is None:
            problems.append((secrets_given[0], "a client secret needs oauth_client_id"))
        env_name = self.oauth_client_secret_env
        if env_name is not None and not ENV_NAME.match(env_name):
            problems.append(
                (
                    "oauth_client_secret_env",
                    "must be the NAME of an environment variable, not the secret itself",
                )
            )
        return problems

    @field_validator("env")
    @classmethod
    def _no_secret_in_env(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [(k, SECRET_HINT) for k, v in value.items() if looks_like_literal_secret(k, v)]
        if bad:
            raise Problems(bad)
        return value

    @field_validator("args")
    @classmethod
    def _no_secret_in_args(cls, value: list[str]) -> list[str]:
        bad = [
            (f"[{i}]", SECRET_HINT)
            for i, arg in enumerate(value)
            if arg.startswith("-") and "=" in arg and looks_like_literal_secret(*arg.split("=", 1))
        ]
        if bad:
            raise Problems(bad)
        return value

    @field_validator("url")
    @classmethod
    def _no_secret_in_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.password or any(
            looks_like_literal_secret(k, v) for k, v in parse_qsl(parts.query)
        ):
            raise ValueError(SECRET_HINT)
        return value


class PortalServerRef(StrictModel):
    """A server as one portal uses it, with that portal's tool and prompt curation."""

    server_id: str = Field(max_length=32, pattern=ID_PATTERN)
    """Id of an entry in [[servers]]."""
    default_disabled: bool | None = Field(
        default=None, description="Overrides the server's default_disabled in this portal."
    )
    on_behalf: bool = False
    """For an `oauth` server: each person's calls carry their own upstream token."""
    updated_tools: list[ToolOverride] = Field(default_factory=list)
    """Portal-level curation of this server's tools; beats the server-level entries."""
    require_approval: bool = False
    """Every tool of this server needs a person's approval per call in this portal."""
    updated_prompts: list[PromptOverride] = Field(default_factory=list)
    """Portal-level curation of this server's prompts; beats the server-level entries."""
    updated_resources: list[ResourceOverride] = Field(default_factory=list)
    """Portal-level curation of this server's resources and templates (by upstream URI)."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = _duplicate_names(self.updated_tools, "updated_tools")
        problems += _duplicate_names(self.updated_prompts, "updated_prompts")
        problems += _duplicate_names(self.updated_resources, "updated_resources")
        if problems:
            raise Problems(problems)
        return self


class ApiKey(StrictModel):
    """A named API key: a service credential that policies match with `service = "<name>"`."""

    name: str = Field(max_length=64, pattern=SERVICE_NAME_PATTERN)
    """The service's name: shown as the request log's `user`, matched by `service` selectors."""
    sha256: str
    """SHA-256 hex digest of the key (never the key)."""

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.match(SERVICE_NAME_PATTERN, value):
            raise ValueError(
                "must be a name of letters, digits, _ . @ - (no spaces or `:`; `key:<hex>` "
                "names unnamed keys), e.g. ci or deploy-bot"
            )
        return value

    @field_validator("sha256")
    @classmethod
    def _hash_only(cls, value: str) -> str:
        if not SHA256_HEX.match(value):
            raise ValueError(_NOT_A_HASH)
        return value


class CodeMode(StrEnum):
    """A portal's code mode policy: whether agent code runs, and which URL gives it."""

    OFF = "off"
    """No code runs: `code` and `execute` are never offered; a URL asking for them gets the
    plain surface."""
    OPT_IN = "opt_in"
    """`/mcp` is the plain surface; `?codemode=search_and_execute` gives `code`."""
    DEFAULT_ON = "default_on"
    """`/mcp` gives `code`; `?codemode=off` opts out to the plain surface."""
    ENFORCED = "enforced"
    """Always `code`; the query string is ignored."""

    @property
    def runs_code(self) -> bool:
        return self is not CodeMode.OFF


class PortalConfig(StrictModel):
    """One portal: a set of upstream servers served on one endpoint."""

    id: str = Field(max_length=32, pattern=ID_PATTERN)
    name: str = Field(default="", max_length=350)
    hostname: str | None = Field(
        default=None,
        description="Host name the portal answers on (Host header), e.g. mcp.example.com.",
    )
    description: str = Field(default="", max_length=512)
    code_mode: CodeMode = CodeMode.OPT_IN
    """Code mode policy: `off` (no code runs; the plain surface instead), `opt_in`
    (`?codemode=search_and_execute` gives `code`), `default_on` (`/mcp` gives `code`,
    `?codemode=off` the plain surface) or `enforced` (always `code`)."""
    allow_code_mode: bool = True
    """The older switch, still accepted: `true` is `code_mode = "opt_in"` (unless `code_mode`
    says otherwise), `false` is `code_mode = "off"`. Always consistent with `code_mode`."""
    servers: list[PortalServerRef] = Field(default_factory=list)
    api_keys: list[str | ApiKey] = Field(
        default_factory=list,
        description="API keys clients may use, never the keys themselves: each a SHA-256 hex "
        'digest, or a named service key { name = "ci", sha256 = "<digest>" }. An unnamed key '
        "is the service `key:<first 8 hex digits>`.",
    )
    api_keys_file: str | None = Field(
        default=None,
        description="File with one API key per line: its SHA-256 hex digest, optionally "
        "followed by a space and the service's name.",
    )
    policies: list[str] = Field(default_factory=list)
    """Ids of [[policies]] deciding who may enter this portal (empty: every caller that
    passes the API-key check without [identity]; nobody with it)."""
    dlp_profiles: list[str] = Field(default_factory=list)
    """DLP profiles applied to the arguments of every call through this portal, added to each
    server's own: `credentials_and_secrets`, `financial_information` or a custom id."""
    dlp_action: DlpAction = "block"
    """What a match of one of these profiles does: `block` (the call fails, naming the profile
    and argument path), `redact` (matches replaced by `[REDACTED:<profile>]` before sending)
    or `log` (sent, and recorded in the request log)."""
    dlp_scan_results: bool = False
    """Also apply these profiles, with the same action, to results through this portal."""
    secure_web_gateway: bool = False
    """Send the HTTP traffic of every server this portal lists through `[settings]
    egress_proxy` (a server shared with other portals goes through it for all of them)."""

    @model_validator(mode="before")
    @classmethod
    def _code_mode(cls, data: Any) -> Any:
        """`allow_code_mode` and `code_mode` say one thing: fill in the one not given; both
        given and disagreeing is a problem naming both."""
        if not isinstance(data, Mapping):
            return data
        allow, mode = data.get("allow_code_mode"), data.get("code_mode")
        if not isinstance(allow, bool) and allow is not None:
            return data  # the field reports the wrong type
        if mode is not None and (not isinstance(mode, str) or mode not in set(CodeMode)):
            return data  # the field reports the unknown value
        if mode is None:
            mode = CodeMode.OPT_IN if allow is None or allow else CodeMode.OFF
            return {**data, "code_mode": CodeMode(mode).value}
        runs = CodeMode(mode).runs_code
        if allow is not None and allow != runs:
            raise Problems(
                [
                    (
                        "code_mode",
                        f"code_mode = {str(mode)!r} and allow_code_mode = {str(allow).lower()} "
                        'disagree (allow_code_mode = true is any code_mode but "off", false is '
                        '"off"); give code_mode alone',
                    )
                ]
            )
        return {**data, "allow_code_mode": runs}

    @field_validator("code_mode", mode="before")
    @classmethod
    def _code_mode_name(cls, value: Any) -> Any:
        """A name from the TOML file (strict validation takes only enum members)."""
        if isinstance(value, str) and value in set(CodeMode):
            return CodeMode(value)
        if isinstance(value, CodeMode):
            return value
        raise ValueError("must be one of " + ", ".join(f'"{m}"' for m in CodeMode))

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value is not None and not _HOSTNAME.match(value):
            raise ValueError("must be a host name such as mcp.example.com (no scheme, no path)")
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _named_keys(cls, value: Any) -> Any:
        """Tables become ApiKey here, so a mistake is reported once, at its own key (pydantic
        would report it against each member of the `str | ApiKey` union)."""
        if not isinstance(value, list):
            return value
        out: list[Any] = []
        problems: list[tuple[str, str]] = []
        for i, entry in enumerate(value):
            if isinstance(entry, Mapping):
                try:
                    out.append(ApiKey.model_validate(dict(entry), strict=True))
                except ValidationError as exc:
                    problems += [
                        (join_path(f"[{i}]", p.path), p.message) for p in problems_from(exc)
                    ]
            elif isinstance(entry, str) and not SHA256_HEX.match(entry):
                problems.append((f"[{i}]", _NOT_A_HASH))
            elif isinstance(entry, str | ApiKey):
                out.append(entry)
            else:
                problems.append(
                    (
                        f"[{i}]",
                        'must be a SHA-256 hex digest or a table { name = "...", sha256 = "..." }',
                    )
                )
        if problems:
            raise Problems(problems)
        return out

    @field_validator("api_keys")
    @classmethod
    def _hashes_only(cls, value: list[str | ApiKey]) -> list[str | ApiKey]:
        problems: list[tuple[str, str]] = []
        first: dict[str, int] = {}
        for i, key in enumerate(value):
            digest = key if isinstance(key, str) else key.sha256
            if digest in first:
                problems.append((f"[{i}]", f"the same key as api_keys[{first[digest]}]"))
            first.setdefault(digest, i)
        if problems:
            raise Problems(problems)
        return value

    @field_validator("api_keys_file")
    @classmethod
    def _relative_to_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        return resolve_path(value, info)

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
            raise Problems(problems)
        return self

    @property
    def requires_api_key(self) -> bool:
        return bool(self.api_keys) or self.api_keys_file is not None


class SandboxSettings(StrictModel):
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


class Settings(StrictModel):
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
    database_url: str = Field(
        default="sqlite+aiosqlite:///codemode.db",
        validate_default=True,
        description="SQLAlchemy URL of the database of people, OAuth clients, grants and "
        "tokens (engine.store); a relative SQLite path is relative like request_log_path. "
        "No password in it: PostgreSQL reads PGPASSWORD or a passfile.",
    )
    secret_key_env: str = Field(
        default="CODEMODE_SECRET_KEY",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Environment variable holding the secret key that signs cookies and "
        "encrypts secrets at rest (32+ characters); unset: one is generated once into "
        "codemode-secret.key (mode 0600) beside the SQLite database.",
    )
    access_token_ttl_s: int = Field(
        default=3600, gt=0, description="Lifetime of a portal access token, in seconds."
    )
    refresh_token_ttl_s: int = Field(
        default=2592000, gt=0, description="Lifetime of a portal refresh token, in seconds."
    )
    egress_proxy: str | None = Field(
        default=None,
        pattern=r"^https?://[^/@\s]+/?$",
        description="Forward proxy (`http://host:port`) that carries the HTTP traffic of "
        "servers and portals with `secure_web_gateway = true`; no credentials in it.",
    )
    egress_proxy_ca_file: str | None = Field(
        default=None,
        description="PEM bundle of CA certificates to trust, besides the system's, for "
        "upstreams reached through an inspecting egress_proxy that re-signs TLS (relative "
        "like request_log_path).",
    )
    approval_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="Seconds a person has to answer an approval request (require_approval) "
        "before the call fails; inside a code run the run's own time limit still applies.",
    )

    @field_validator("request_log_path", "request_log_jsonl_path")
    @classmethod
    def _relative_to_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Never the working directory: a client may start codemode in `/`.
        return resolve_path(value, info, fallback=state_dir())

    @field_validator("egress_proxy_ca_file")
    @classmethod
    def _ca_file_relative_to_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        return resolve_path(value, info)

    @field_validator("database_url")
    @classmethod
    def _database_file_relative_to_config(cls, value: str, info: ValidationInfo) -> str:
        if urlsplit(value).password:
            raise ValueError(
                "holds a password; keep it out of the config: PostgreSQL reads it from "
                "PGPASSWORD or a passfile (PGPASSFILE)"
            )
        sqlite = re.match(r"^(sqlite(?:\+\w+)?:///)([^?]*)(.*)$", value)
        if sqlite is None or not sqlite.group(2):
            return value  # another database, or SQLite in memory
        path = resolve_path(sqlite.group(2), info, fallback=state_dir())
        return f"{sqlite.group(1)}{path}{sqlite.group(3)}"


ACCOUNT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class AdminConfig(StrictModel):
    """`[admin]`: the Cloudflare-compatible admin API (`/client/v4/accounts/<account_id>/...`).

    Present: `serve` opens the store (`settings.database_url`) for the named admin tokens that
    `codemode admin-token create` writes there. Absent: the account id is `local` and only
    `CODEMODE_ADMIN_TOKEN` (unless `[identity]` opens the store anyway)."""

    account_id: str = Field(
        default="local",
        pattern=ACCOUNT_ID_PATTERN,
        description="The account id of the admin API's paths; any other id answers 404.",
    )
    config: Literal["store", "file"] = Field(
        default="store",
        description='Where portals and servers live: "store" (the database; the config file '
        'seeds an empty store once, then the admin API\'s writes rule) or "file" (this file '
        "only; the admin API is read-only).",
    )


class Config(StrictModel):
    """A whole config file: upstream servers, the portals built from them, and settings."""

    servers: list[ServerConfig] = Field(default_factory=list)
    portals: list[PortalConfig] = Field(default_factory=list)
    settings: Settings = Field(default_factory=Settings)
    identity: IdentityConfig | None = None
    """Sign-in of people (absent: none; API keys still work, policies are optional)."""
    policies: list[PolicyConfig] = Field(default_factory=list)
    """Access policies, referenced by id from portals and servers."""
    dlp_custom_profiles: list[DlpCustomProfile] = Field(default_factory=list)
    """DLP profiles of your own, referenced by id from `dlp_profiles` of servers and portals."""
    admin: AdminConfig | None = None
    """The admin API's account id, and named admin tokens from the store (absent: account
    `local`, `CODEMODE_ADMIN_TOKEN` only unless `[identity]` opens the store)."""

    @property
    def account_id(self) -> str:
        """The admin API's account id (`[admin] account_id`, default `local`)."""
        return self.admin.account_id if self.admin is not None else "local"

    @property
    def config_in_store(self) -> bool:
        """Whether portals and servers live in the store (`[admin] config = "store"`)."""
        return self.admin is not None and self.admin.config == "store"

    @property
    def uses_store(self) -> bool:
        """Whether `serve` opens the store: for sign-in (`[identity]`) or admin tokens."""
        oauth = any(server.auth_type == "oauth" for server in self.servers)
        return self.identity is not None or self.admin is not None or oauth

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
            raise Problems(problems)
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

    def policy(self, policy_id: str) -> PolicyConfig:
        for policy in self.policies:
            if policy.id == policy_id:
                return policy
        raise KeyError(policy_id)

    def portal_servers(self, portal: PortalConfig) -> list[tuple[PortalServerRef, ServerConfig]]:
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
    problems += _policy_reference_problems(data, servers, portals)
    problems += dlp_reference_problems(data, servers, portals)
    problems += _duplicates(portals, "portals", "hostname", "hostname", fold=True)
    problems += _egress_problems(data, servers, portals)
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


def _egress_problems(
    data: Mapping[str, Any],
    servers: list[tuple[int, Mapping[str, Any]]],
    portals: list[tuple[int, Mapping[str, Any]]],
) -> list[tuple[str, str]]:
    """`secure_web_gateway = true` needs a proxy to send through; stdio has no HTTP to send."""
    settings = data.get("settings")
    proxy = settings.get("egress_proxy") if isinstance(settings, Mapping) else None
    problems: list[tuple[str, str]] = []
    for field, entries in (("servers", servers), ("portals", portals)):
        for i, entry in entries:
            if entry.get("secure_web_gateway") is not True:
                continue
            if not proxy:
                problems.append(
                    (
                        f"{field}[{i}].secure_web_gateway",
                        'needs [settings] egress_proxy = "http://host:port" to send through',
                    )
                )
            elif field == "servers" and entry.get("command"):
                problems.append(
                    (
                        f"{field}[{i}].secure_web_gateway",
                        "a stdio server sends no HTTP; remove it (or give the server a url)",
                    )
                )
    return problems


def _policy_reference_problems(
    data: Mapping[str, Any],
    servers: list[tuple[int, Mapping[str, Any]]],
    portals: list[tuple[int, Mapping[str, Any]]],
) -> list[tuple[str, str]]:
    """Unique policy ids; every id in a portal's or server's `policies` names one."""
    policies = _items(data, "policies")
    problems = _duplicates(policies, "policies", "id", "policy id")
    if not isinstance(data.get("policies", []), list):
        return problems
    known = sorted({p["id"] for _, p in policies if isinstance(p.get("id"), str)})
    for field, entries in (("servers", servers), ("portals", portals)):
        for i, entry in entries:
            refs = entry.get("policies")
            if not isinstance(refs, list):
                continue
            seen: set[str] = set()
            for j, ref in enumerate(refs):
                where = f"{field}[{i}].policies[{j}]"
                if isinstance(ref, str) and ref in seen:
                    problems.append((where, f"policy {ref!r} is listed twice"))
                elif isinstance(ref, str) and ref not in known:
                    problems.append(
                        (
                            where,
                            f"no policy with id {ref!r} in [[policies]]"
                            + (f" (known: {', '.join(known)})" if known else ""),
                        )
                    )
                if isinstance(ref, str):
                    seen.add(ref)
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


# --------------------------------------------------------------------------- schema


def json_schema() -> dict[str, Any]:
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "codemode config"
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] != ["--schema"]:
        print("usage: python -m engine.config --schema  (check a config: codemode check-config)")
        raise SystemExit(2)
    sys.stdout.write(schema_text())
