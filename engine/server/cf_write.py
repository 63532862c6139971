"""Request bodies of the Cloudflare-shaped admin API's writes, turned into config entries.

A body is the SDK's (`cloudflare` 5.9.0 `PortalCreateParams`, `ServerUpdateParams`, ...)
plus our own fields (a stdio server's `command`/`args`/`env`/`cwd`, timeouts, `policies`,
a portal's `api_keys`). The fields `GET` returns but a write cannot set (status, tools,
times, ...) are accepted and ignored, so a body copied from `GET` works.

`PUT` replaces: an omitted field takes its default, except what `GET` cannot show or the
SDK's update cannot send, which keeps its value: write-only secrets (`auth_credentials`,
`client_secret`), a server's transport (`hostname`, `auth_type`, `command`, ...) and
access control (`policies`, a portal's `api_keys`), so copying `GET` into `PUT` never drops
a credential or opens a portal.

Every problem is `(field, message)`; the config's own validation (`Config.from_dict`,
`cross_problems`) runs after, on the whole new config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.config import CodeMode, PortalConfig, ServerConfig
from engine.config_store import entry
from engine.credentials import StoredCredentials, parse_auth_credentials

Problem = tuple[str, str]

_OVERRIDE_KEYS = {
    "name",
    "enabled",
    "alias",
    "description",
    "server_alias",
    "server_description",
    "portal_alias",
    "portal_description",
    "require_approval",
}
_PORTAL_FIELDS = {
    "id",
    "hostname",
    "name",
    "description",
    "allow_code_mode",
    "code_mode",
    "secure_web_gateway",
    "servers",
    "policies",
    "api_keys",
    "api_keys_file",
}
_PORTAL_READ_ONLY = {"created_at", "created_by", "modified_at", "modified_by", "requires_api_key"}
_PORTAL_KEPT = ("api_keys", "api_keys_file", "policies")
_REF_FIELDS = {
    "server_id",
    "default_disabled",
    "on_behalf",
    "updated_tools",
    "updated_prompts",
    "updated_resources",
    "require_approval",
}
_SERVER_FIELDS = {
    "id",
    "name",
    "hostname",
    "auth_type",
    "auth_credentials",
    "client_secret",
    "description",
    "default_disabled",
    "is_shared_oauth_callback_enabled",
    "secure_web_gateway",
    "updated_tools",
    "updated_prompts",
    "updated_resources",
    "require_approval",
    "command",
    "args",
    "env",
    "cwd",
    "bearer_token_env",
    "bearer_token_file",
    "call_timeout_s",
    "sync_interval_s",
    "connect_timeout_s",
    "policies",
    "oauth_client_id",
    "oauth_scopes",
}
_SERVER_READ_ONLY = {
    "created_at",
    "created_by",
    "modified_at",
    "modified_by",
    "status",
    "error",
    "error_details",
    "last_synced",
    "last_successful_sync",
    "tools",
    "prompts",
    "resources",
    "resource_templates",
    "egress_routed",
    "transport",
    "has_auth_credentials",
    "protocol_version",
    "auth_config_summary",
    "authentication_status",
    "server_id",
    "on_behalf",
}
_TRANSPORT = ("url", "command", "args", "env", "cwd", "auth_type")
_AUTH_REFS = ("bearer_token_env", "bearer_token_file", "credentials")
_OAUTH_KEPT = ("oauth_client_id", "oauth_scopes")
"""Our own fields the SDK's update cannot send: a PUT without them keeps them."""
STDIO_PREFIX = "stdio:"


def _unknown(body: Mapping[str, Any], known: set[str], prefix: str = "") -> list[Problem]:
    return [
        (f"{prefix}{key}", "is not a field of this object (see the API's OpenAPI document)")
        for key in body
        if key not in known
    ]


def _overrides(value: Any, level: str, where: str) -> tuple[Any, list[Problem]]:
    """The API's `{name, alias, description, enabled}` as config overrides at `level`
    (`server` or `portal`); the other level's names, echoed from `GET`, are dropped."""
    if not isinstance(value, list):
        return value, []
    out: list[Any] = []
    problems: list[Problem] = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            out.append(item)
            continue
        problems += _unknown(item, _OVERRIDE_KEYS, f"{where}[{i}].")
        problems += _nulls(item, set(), f"{where}[{i}].")
        entry_: dict[str, Any] = {"name": item.get("name")}
        for key in ("enabled", "require_approval"):
            if item.get(key) is not None:
                entry_[key] = item[key]
        for ours in ("alias", "description"):
            given = item.get(ours, item.get(f"{level}_{ours}"))
            if given is not None:
                entry_[f"{level}_{ours}"] = given
        out.append(entry_)
    return out, problems


def _nulls(body: Mapping[str, Any], nullable: set[str], prefix: str = "") -> list[Problem]:
    """`null` is not a value here (leave a field out for its default), except in `nullable`."""
    return [
        (f"{prefix}{key}", "must not be null; leave it out to take its default")
        for key, value in body.items()
        if value is None and key not in nullable
    ]


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


# --------------------------------------------------------------------------------- portals


def portal_entry(
    body: Mapping[str, Any], current: PortalConfig | None, path_id: str | None, asked_host: str
) -> tuple[dict[str, Any], list[Problem]]:
    """A portal's config entry from a POST (`current` None) or PUT body. `GET` shows a
    portal without a hostname on `asked_host`: that value sent back means none still."""
    problems = _unknown(body, _PORTAL_FIELDS | _PORTAL_READ_ONLY)
    problems += _nulls(body, _PORTAL_READ_ONLY | {"description"})
    if current is None:
        problems += [(k, "is required") for k in ("id", "hostname", "name") if k not in body]
    elif "id" in body and body["id"] != path_id:
        problems.append(
            ("id", f"is {body['id']!r} but the path names {path_id!r}; ids cannot change")
        )
    data: dict[str, Any] = {k: body[k] for k in _PORTAL_FIELDS if k in body}
    data["id"] = path_id if current is not None else body.get("id")
    if current is not None:
        kept = entry(current)
        for key in _PORTAL_KEPT:
            if key not in data and key in kept:
                data[key] = kept[key]
    if data.get("description") is None:
        data.pop("description", None)
    unset = current is None or current.hostname is None
    if unset and data.get("hostname") == asked_host:
        data.pop("hostname", None)
    servers = data.get("servers")
    if isinstance(servers, list):
        refs: list[Any] = []
        for i, ref in enumerate(servers):
            if not isinstance(ref, Mapping):
                refs.append(ref)
                continue
            problems += _unknown(
                ref, _REF_FIELDS | _SERVER_FIELDS | _SERVER_READ_ONLY, f"servers[{i}]."
            )
            out = {k: ref[k] for k in _REF_FIELDS if k in ref}
            problems += _nulls(out, set(), f"servers[{i}].")
            for key in ("updated_tools", "updated_prompts", "updated_resources"):
                if key in out:
                    out[key], more = _overrides(out[key], "portal", f"servers[{i}].{key}")
                    problems += more
            refs.append(_drop_none(out))
        data["servers"] = refs
    return data, problems


# --------------------------------------------------------------------------------- servers


def _transport(
    body: Mapping[str, Any], current: ServerConfig | None
) -> tuple[dict[str, Any], list[Problem]]:
    """`hostname` (a URL, or `stdio:...` shown for a stdio server) and the stdio fields."""
    kept = entry(current) if current is not None else {}
    if not any(k in body for k in ("hostname", "command")) and current is not None:
        return {k: kept[k] for k in _TRANSPORT if k in kept and k != "auth_type"}, []
    hostname = body.get("hostname")
    if "command" in body:
        if isinstance(hostname, str) and hostname and not hostname.startswith(STDIO_PREFIX):
            return {}, [("hostname", "a stdio server (command) has no URL; leave hostname out")]
        out = {k: body[k] for k in ("command", "args", "env", "cwd") if k in body}
        return out, []
    if isinstance(hostname, str) and hostname.startswith(STDIO_PREFIX) and current is not None:
        return {k: kept[k] for k in _TRANSPORT if k in kept and k != "auth_type"}, []
    if hostname is None:
        return {}, [("hostname", "is required: the URL of the upstream MCP endpoint")]
    problems = [
        (k, "applies to stdio servers (command) only") for k in ("args", "env", "cwd") if k in body
    ]
    return {"url": hostname}, problems


def _auth(
    body: Mapping[str, Any],
    current: ServerConfig | None,
    held: StoredCredentials | None,
    auth_type: Any,
) -> tuple[dict[str, Any], StoredCredentials | None, list[Problem]]:
    """The auth fields and the secrets to store: given ones replace, omitted ones stay
    (`""` clears); env/file references stay unless a credential replaces them."""
    problems: list[Problem] = []
    bearer, headers = (held.bearer, dict(held.headers)) if held else (None, {})
    client_secret = held.client_secret if held else None
    refs = {k: v for k, v in (entry(current) if current else {}).items() if k in _AUTH_REFS}
    for key in ("bearer_token_env", "bearer_token_file"):
        if key in body:
            refs = {} if body[key] is None else {key: body[key]}
            bearer, headers = None, {}
    given = body.get("auth_credentials", ...)
    if given == "":
        bearer, headers = None, {}
        refs.pop("credentials", None)
    elif isinstance(given, str):
        try:
            bearer, headers = parse_auth_credentials(given)
        except ValueError as exc:
            problems.append(("auth_credentials", str(exc)))
        refs = {"credentials": "store"}
    elif given is not ... and given is not None:
        problems.append(("auth_credentials", "must be a string: a token or a JSON object text"))
    secret = body.get("client_secret", ...)
    if secret == "":
        client_secret = None
    elif isinstance(secret, str):
        client_secret = secret
    elif secret is not ... and secret is not None:
        problems.append(("client_secret", "must be a string"))
    if auth_type != "bearer":
        if isinstance(given, str) and given:
            problems.append(("auth_credentials", f"needs auth_type bearer (it is {auth_type!r})"))
        refs, bearer, headers = {}, None, {}
    if auth_type != "oauth":
        if isinstance(secret, str) and secret:
            problems.append(("client_secret", f"needs auth_type oauth (it is {auth_type!r})"))
        client_secret = None
    stored = StoredCredentials(bearer, headers, client_secret)
    return refs, (stored if stored.has_auth_credentials or client_secret else None), problems


def server_entry(
    body: Mapping[str, Any],
    current: ServerConfig | None,
    held: StoredCredentials | None,
    path_id: str | None,
) -> tuple[dict[str, Any], StoredCredentials | None, list[Problem]]:
    """A server's config entry and secrets from a POST (`current` None) or PUT body."""
    problems = _unknown(body, _SERVER_FIELDS | _SERVER_READ_ONLY)
    problems += _nulls(
        body, _SERVER_READ_ONLY | {"description", "bearer_token_env", "bearer_token_file"}
    )
    if current is None:
        problems += [(k, "is required") for k in ("id", "name", "auth_type") if k not in body]
    elif "id" in body and body["id"] != path_id:
        problems.append(
            ("id", f"is {body['id']!r} but the path names {path_id!r}; ids cannot change")
        )
    transport, more = _transport(body, current)
    problems += more
    auth_type = body.get("auth_type", current.auth_type if current else None)
    refs, secrets, more = _auth(body, current, held, auth_type)
    problems += more
    plain = {
        k: body[k]
        for k in _SERVER_FIELDS - {"hostname", "auth_credentials", "client_secret", *_AUTH_REFS}
        if k in body and k not in transport
    }
    data: dict[str, Any] = {**plain, **transport, **refs}
    data["id"] = path_id if current is not None else body.get("id")
    if auth_type is not None:
        data["auth_type"] = auth_type
    if current is not None and "policies" not in body and current.policies:
        data["policies"] = list(current.policies)
    if current is not None and auth_type == "oauth":
        kept = entry(current)
        data.update({k: kept[k] for k in _OAUTH_KEPT if k not in body and k in kept})
    if secrets is not None and secrets.client_secret and not data.get("oauth_client_id"):
        problems.append(
            (
                "client_secret",
                "needs oauth_client_id: the id of the client registered at the upstream's "
                "authorization server that this secret belongs to",
            )
        )
    if data.get("description") is None:
        data.pop("description", None)
    for key in ("updated_tools", "updated_prompts", "updated_resources"):
        if key in data:
            data[key], more = _overrides(data[key], "server", key)
            problems += more
    return data, secrets, problems


def code_mode_problem(body: Mapping[str, Any]) -> list[Problem]:
    """`allow_code_mode` and `code_mode` both sent and disagreeing (the config says it too,
    but with its own field names; this one names the API's)."""
    allow, mode = body.get("allow_code_mode"), body.get("code_mode")
    if not isinstance(allow, bool) or not isinstance(mode, str) or mode not in set(CodeMode):
        return []
    if CodeMode(mode).runs_code == allow:
        return []
    return [
        (
            "allow_code_mode",
            f"is {str(allow).lower()} but code_mode is {mode!r}: true means any code_mode but "
            '"off", false means "off"; send code_mode alone',
        )
    ]
