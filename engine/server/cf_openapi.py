"""The OpenAPI 3.1 document of the Cloudflare-shaped admin API (`GET /client/v4/openapi.json`,
public: it holds no data but the account id). Request bodies follow the SDK's params
(`cloudflare` 5.9.0) with our own fields; what `GET` returns is described loosely (the SDK's
models are the strict check, in tests/web/test_cf_write.py). Bounds are the config's
(`engine.config`), so a body this document allows fails only on meaning: a server id no
server has, a hostname taken, a URL that is not one."""

from __future__ import annotations

from typing import Any

from engine.config import ACCOUNT_ID_PATTERN, ID_PATTERN, CodeMode

_ID = {"type": "string", "pattern": ID_PATTERN, "maxLength": 32}
_ALIAS = {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,64}$"}
_HOSTNAME = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$",
}
_ERRORS = {
    "400": "The body or a parameter is not valid; every problem is listed, naming its field.",
    "401": "Missing, wrong or revoked admin token.",
    "403": "The admin token has read permission only.",
    "404": "No such portal, server or account.",
    "405": 'The configuration is read-only ([admin] config = "file").',
    "503": "No admin token is configured: the admin API is off.",
}
_READ_ERRORS = ("400", "401", "404", "503")


_APPROVAL = (
    "Our addition: a person approves each call (of this tool, or of every tool of this server) "
    "through their MCP client before it leaves the host."
)


def _override() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "alias": _ALIAS,
            "description": {"type": "string"},
            "enabled": {"type": "boolean"},
            "require_approval": {"type": "boolean", "description": _APPROVAL},
        },
    }


def _portal_body(required: list[str]) -> dict[str, Any]:
    ref = {
        "type": "object",
        "additionalProperties": False,
        "required": ["server_id"],
        "properties": {
            "server_id": _ID,
            "default_disabled": {"type": "boolean"},
            "on_behalf": {
                "type": "boolean",
                "description": "oauth servers: each person's calls carry their own token.",
            },
            "updated_tools": {"type": "array", "items": _override()},
            "updated_prompts": {"type": "array", "items": _override()},
            "updated_resources": {"type": "array", "items": _override()},
            "require_approval": {"type": "boolean", "description": _APPROVAL},
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": {
            "id": _ID,
            "hostname": _HOSTNAME,
            "name": {"type": "string", "maxLength": 350},
            "description": {"type": ["string", "null"], "maxLength": 512},
            "allow_code_mode": {"type": "boolean"},
            "code_mode": {"type": "string", "enum": [str(m) for m in CodeMode]},
            "secure_web_gateway": {"type": "boolean", "description": "Stored; no effect."},
            "servers": {"type": "array", "items": ref},
        },
    }


def _server_body(required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": {
            "id": _ID,
            "name": {"type": "string", "maxLength": 350},
            "hostname": {"type": "string", "minLength": 1, "description": "The upstream URL."},
            "auth_type": {"type": "string", "enum": ["unauthenticated", "bearer", "oauth"]},
            "auth_credentials": {
                "type": "string",
                "description": 'Write-only: a bearer token or {"headers": {...}} as JSON text.',
            },
            "client_secret": {
                "type": "string",
                "description": "Write-only: the secret of the pre-registered OAuth client "
                "`oauth_client_id` (auth_type oauth); stored encrypted, never returned.",
            },
            "description": {"type": ["string", "null"], "maxLength": 512},
            "default_disabled": {"type": "boolean"},
            "is_shared_oauth_callback_enabled": {"type": "boolean"},
            "secure_web_gateway": {"type": "boolean"},
            "updated_tools": {"type": "array", "items": _override()},
            "updated_prompts": {"type": "array", "items": _override()},
            "updated_resources": {"type": "array", "items": _override()},
            "require_approval": {"type": "boolean", "description": _APPROVAL},
        },
    }


def _envelope(result: dict[str, Any], *, paged: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "result": result,
        "success": {"const": True},
        "errors": {"type": "array", "maxItems": 0},
        "messages": {"type": "array"},
    }
    if paged:
        properties["result_info"] = {"type": "object", "required": ["page", "per_page"]}
    return {"type": "object", "required": list(properties), "properties": properties}


_ERROR_ENVELOPE = {
    "type": "object",
    "required": ["result", "success", "errors", "messages"],
    "properties": {
        "result": {"type": "null"},
        "success": {"const": False},
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
            },
        },
        "messages": {"type": "array"},
    },
}
_PORTAL_OUT = {"type": "object", "required": ["id", "hostname", "name", "servers"]}
_SERVER_OUT = {"type": "object", "required": ["id", "auth_type", "hostname", "name", "tools"]}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(
    op_id: str,
    ok: dict[str, Any],
    errors: tuple[str, ...],
    *,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    responses = {"200": _json(ok, "Success.")}
    responses |= {code: _json(_ERROR_ENVELOPE, _ERRORS[code]) for code in errors}
    op: dict[str, Any] = {"operationId": op_id, "parameters": params or [], "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def cf_openapi_document(account_id: str) -> dict[str, Any]:
    """The document for this portal's account id (the only one its paths answer)."""
    account = {
        "name": "account_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": [account_id], "pattern": ACCOUNT_ID_PATTERN},
    }
    object_id = {"name": "id", "in": "path", "required": True, "schema": _ID}
    pages = [
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {
            "name": "per_page",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
        },
    ]
    writes = ("400", "401", "403", "404", "405", "503")
    one = [account, object_id]
    base = "/client/v4/accounts/{account_id}/access/ai-controls/mcp"
    portal, server = _envelope(_PORTAL_OUT), _envelope(_SERVER_OUT)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "codemode admin API (Cloudflare MCP portals shape)",
            "version": "1",
            "description": "Portals and servers; see README, section Admin API.",
        },
        "security": [{"adminToken": []}],
        "paths": {
            f"{base}/portals": {
                "get": _op(
                    "listPortals",
                    _envelope({"type": "array", "items": _PORTAL_OUT}, paged=True),
                    _READ_ERRORS,
                    params=[account, *pages],
                ),
                "post": _op(
                    "createPortal",
                    portal,
                    writes,
                    body=_portal_body(["id", "hostname", "name"]),
                    params=[account],
                ),
            },
            f"{base}/portals/{{id}}": {
                "get": _op("readPortal", portal, _READ_ERRORS, params=one),
                "put": _op("updatePortal", portal, writes, body=_portal_body([]), params=one),
                "delete": _op("deletePortal", portal, writes, params=one),
            },
            f"{base}/servers": {
                "get": _op(
                    "listServers",
                    _envelope({"type": "array", "items": _SERVER_OUT}, paged=True),
                    _READ_ERRORS,
                    params=[account, *pages],
                ),
                "post": _op(
                    "createServer",
                    server,
                    writes,
                    body=_server_body(["id", "name", "hostname", "auth_type"]),
                    params=[account],
                ),
            },
            f"{base}/servers/{{id}}": {
                "get": _op("readServer", server, _READ_ERRORS, params=one),
                "put": _op("updateServer", server, writes, body=_server_body([]), params=one),
                "delete": _op("deleteServer", server, writes, params=one),
            },
            f"{base}/servers/{{id}}/sync": {
                "post": _op("syncServer", _envelope({"type": "object"}), writes, params=one),
            },
        },
        "components": {"securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}}},
    }
