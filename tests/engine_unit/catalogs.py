"""Catalogs for search tests: real tool lists plus deterministic synthetic distractors.

`fixtures/real_tools.json` holds the `tools/list` results of real upstream servers
(mcp-server-time, mcp-server-git, mcp-server-fetch, and the npm filesystem, memory and
everything servers) as recorded for the stubs tests.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from mcp_types import Tool

from engine.config import PortalServerRef, ServerConfig
from engine.curation import CuratedTool, ServerCatalog, curate

FIXTURE = Path(__file__).parent / "fixtures" / "real_tools.json"

_PRODUCTS = {
    "crm": ("contact", "deal", "company", "note", "pipeline"),
    "jira": ("issue", "sprint", "board", "comment", "epic"),
    "slack": ("message", "channel", "reaction", "user", "reminder"),
    "calendar": ("event", "attendee", "calendar", "invitation", "availability"),
    "stripe": ("customer", "invoice", "payment", "subscription", "refund"),
    "postgres": ("table", "query", "index", "schema", "row"),
    "storage": ("bucket", "object", "upload", "signed_url", "lifecycle_rule"),
    "notion": ("page", "database", "block", "comment", "workspace"),
    "mail": ("email", "draft", "label", "thread", "attachment"),
    "tickets": ("ticket", "macro", "agent", "satisfaction_rating", "view"),
    "metrics": ("dashboard", "monitor", "metric", "alert", "incident"),
    "k8s": ("pod", "deployment", "service", "namespace", "log"),
    "docker": ("container", "image", "volume", "network", "build"),
    "drive": ("file", "folder", "permission", "revision", "shared_drive"),
    "weather": ("forecast", "alert", "station", "observation", "radar_image"),
    "maps": ("route", "place", "geocode", "distance", "elevation"),
    "hr": ("employee", "time_off", "payroll", "review", "department"),
    "ci": ("pipeline", "job", "artifact", "runner", "variable"),
    "analytics": ("report", "segment", "funnel", "event", "cohort"),
    "shop": ("product", "order", "inventory", "discount", "fulfillment"),
}
_VERBS = {
    "list": "List {o}s in {p}, with filters and pagination.",
    "get": "Get one {o} from {p} by its id, with all its fields.",
    "create": "Create a new {o} in {p}.",
    "update": "Update fields of an existing {o} in {p}.",
    "delete": "Delete a {o} from {p}. This cannot be undone.",
    "search": "Search {o}s in {p} by free text.",
    "export": "Export {o}s from {p} as CSV.",
    "archive": "Archive a {o} in {p} so it no longer shows in lists.",
    "count": "Count {o}s in {p} matching a filter.",
    "sync": "Synchronise {o}s between {p} and the local cache.",
}


def real_catalog() -> dict[str, list[Tool]]:
    data: dict[str, list[dict[str, Any]]] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return {server: [Tool.model_validate(t) for t in tools] for server, tools in data.items()}


def synthetic_tools(count: int, seed: int = 7) -> list[tuple[str, Tool]]:
    """`count` realistic (server_id, Tool) pairs, the same for the same seed."""
    rnd = random.Random(seed)
    out: list[tuple[str, Tool]] = []
    combos = [(p, o, v) for p, objs in _PRODUCTS.items() for o in objs for v in _VERBS]
    rnd.shuffle(combos)
    for n in range(count):
        product, obj, verb = combos[n % len(combos)]
        server = product if n < len(combos) else f"{product}{n // len(combos)}"
        words = obj.replace("_", " ")
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                f"{obj}_id": {"type": "string", "description": f"Id of the {words}."},
                "limit": {"type": "integer", "description": "Maximum number of results."},
            },
        }
        description = _VERBS[verb].format(o=words, p=product.upper())
        out.append(
            (
                server,
                Tool(name=f"{verb}_{obj}", description=description, input_schema=schema),
            )
        )
    return out


def portal_tools(distractors: int) -> list[CuratedTool]:
    """The real tools plus `distractors` synthetic ones, curated as one portal would show them."""
    by_server: dict[str, list[Tool]] = {s: list(t) for s, t in real_catalog().items()}
    for server, tool in synthetic_tools(distractors):
        by_server.setdefault(server, []).append(tool)
    catalogs = [
        ServerCatalog(
            server=ServerConfig(id=server, command="unused"),
            portal_ref=PortalServerRef(server_id=server),
            tools=tools,
            prompts=[],
        )
        for server, tools in by_server.items()
    ]
    return curate(catalogs).enabled_tools
