"""The OpenAPI 3.1 document of the admin and logs API, generated from the response models in
`engine.server.admin_models` so the document and the code cannot drift apart."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from engine.config import ID_PATTERN
from engine.server.admin_models import (
    AuditEntryOut,
    Envelope,
    ErrorEnvelope,
    LogEntryOut,
    PortalOut,
    SyncOut,
)

MAX_LOG_LIMIT = 1000
DEFAULT_LOG_LIMIT = 100
_ID_SCHEMA = {"type": "string", "pattern": ID_PATTERN, "maxLength": 32}
_REF = "#/components/schemas/{model}"

_PORTAL_LIST = Envelope[list[PortalOut]]
_PORTAL = Envelope[PortalOut]
_SYNC = Envelope[SyncOut]
_LOGS = Envelope[list[LogEntryOut]]
_AUDIT = Envelope[list[AuditEntryOut]]
_MODELS: list[type[BaseModel]] = [_PORTAL_LIST, _PORTAL, _SYNC, _LOGS, _AUDIT, ErrorEnvelope]


def _json(ref: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _id_param(name: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"Id of the {what}, as in the config.",
        "schema": _ID_SCHEMA,
    }


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _operation(
    op_id: str,
    summary: str,
    ok: dict[str, Any],
    errors: dict[str, str],
    refs: dict[str, dict[str, Any]],
    params: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    responses = {"200": _json(ok, "Success.")}
    auth = {
        "401": "Missing or wrong admin token.",
        "503": "No admin token is configured on the server: the admin API is off.",
    }
    for status, text in {**errors, **auth}.items():
        responses[status] = _json(refs["error"], text)
    return {
        "operationId": op_id,
        "summary": summary,
        "parameters": params or [],
        "responses": responses,
    }


@cache
def openapi_document() -> dict[str, Any]:
    """The document served at `GET /api/openapi.json`."""
    keys, top = models_json_schema([(m, "serialization") for m in _MODELS], ref_template=_REF)
    ref = {m: keys[(m, "serialization")] for m in _MODELS}
    refs = {"error": ref[ErrorEnvelope]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "codemode admin and logs API",
            "version": "1",
            "description": (
                "Read-only view of the portals, their upstream servers and request logs, plus "
                "re-syncing one server. Every response is an envelope "
                "`{result, success, errors, messages}`; errors carry `{code, message}`. "
                "Authenticate with `Authorization: Bearer <admin token>`."
            ),
        },
        "security": [{"adminToken": []}],
        "paths": {
            "/api/portals": {
                "get": _operation(
                    "listPortals", "Every portal with its servers.", ref[_PORTAL_LIST], {}, refs
                )
            },
            "/api/portals/{portal_id}": {
                "get": _operation(
                    "getPortal",
                    "One portal with its servers.",
                    ref[_PORTAL],
                    {"404": "No portal has this id."},
                    refs,
                    [_id_param("portal_id", "portal")],
                )
            },
            "/api/servers/{server_id}/sync": {
                "post": _operation(
                    "syncServer",
                    "Re-sync one upstream server now and return its state.",
                    ref[_SYNC],
                    {"404": "No server has this id."},
                    refs,
                    [_id_param("server_id", "upstream server")],
                )
            },
            "/api/logs": {
                "get": _operation(
                    "listLogs",
                    "Request log entries, newest first.",
                    ref[_LOGS],
                    {
                        "400": "A query parameter is not valid; the message says which.",
                        "404": "The portal or server filtered on does not exist.",
                    },
                    refs,
                    [
                        _query("portal", "Only entries of this portal.", _ID_SCHEMA),
                        _query("server", "Only entries of this server.", _ID_SCHEMA),
                        _query(
                            "since",
                            "Only entries at or after this time (RFC 3339, with an offset).",
                            {"type": "string", "format": "date-time"},
                        ),
                        _query(
                            "limit",
                            "At most this many entries.",
                            {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_LOG_LIMIT,
                                "default": DEFAULT_LOG_LIMIT,
                            },
                        ),
                    ],
                )
            },
            "/api/audit": {
                "get": _operation(
                    "listAudit",
                    "The audit log of configuration writes, newest first.",
                    ref[_AUDIT],
                    {
                        "400": "A query parameter is not valid; the message says which.",
                        "404": "No store (no [admin] table): there is no audit log.",
                    },
                    refs,
                    [
                        _query(
                            "since",
                            "Only entries at or after this time (RFC 3339, with an offset).",
                            {"type": "string", "format": "date-time"},
                        ),
                        _query(
                            "limit",
                            "At most this many entries.",
                            {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_LOG_LIMIT,
                                "default": DEFAULT_LOG_LIMIT,
                            },
                        ),
                    ],
                )
            },
        },
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The admin token the server was started with.",
                }
            },
        },
    }
