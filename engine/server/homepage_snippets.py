"""What the homepage says about connecting: one endpoint per surface, and each client's setup
snippet with `URL` where the endpoint goes (plain text; the template escapes it and puts the
URL, in the form `url_forms` gives for the snippet's kind, between its parts)."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from engine.surfaces import Surface

URL = "__CODEMODE_URL__"
"""Placeholder for the endpoint URL in snippets."""


@dataclass(frozen=True)
class Endpoint:
    surface: Surface
    query: str
    label: str
    blurb: str


ENDPOINTS = [
    Endpoint(Surface.ALL, "", "All tools", "Every enabled tool, each as its own MCP tool."),
    Endpoint(
        Surface.MINIMIZE_TOOLS,
        "?optimize_context=minimize_tools",
        "Minimized tools",
        "Tool names only, plus a query tool that returns full schemas when needed.",
    ),
    Endpoint(
        Surface.SEARCH_AND_EXECUTE,
        "?optimize_context=search_and_execute",
        "Search and execute",
        "Two tools: query finds tools, execute runs JavaScript that calls them.",
    ),
    Endpoint(
        Surface.CODEMODE,
        "?codemode=search_and_execute",
        "Code mode",
        "One code tool: the model writes JavaScript against typed functions for every tool.",
    ),
]


@dataclass(frozen=True)
class Client:
    name: str
    where: str
    kind: str  # "json" or "shell": how the URL is quoted inside the snippet
    snippet: str


def url_forms(url: str) -> dict[str, str]:
    """The URL as it appears in each kind of snippet."""
    return {"raw": url, "json": json.dumps(url)[1:-1], "shell": shlex.quote(url)}


def _json_snippet(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2)


_KEY_HEADER = "Authorization: Bearer <your API key>"


def clients(name: str, needs_key: bool) -> list[Client]:
    """Connection instructions per client, with `URL` where the endpoint goes.

    Shapes follow each client's documentation: Claude Desktop launches a stdio command (the
    `mcp-remote` bridge); Cursor takes `url`, Windsurf `serverUrl`, VS Code `servers` with
    `type: http`, OpenCode `mcp` with `type: remote`. A portal with API keys adds the
    `Authorization` header (a placeholder, never a key) in each client's own way.
    """
    field, _, value = _KEY_HEADER.partition(": ")
    headers: dict[str, Any] = {"headers": {field: value}} if needs_key else {}
    flag = f" --header {shlex.quote(_KEY_HEADER)}" if needs_key else ""
    bridge = ["-y", "mcp-remote@latest", URL] + (["--header", _KEY_HEADER] if needs_key else [])
    return [
        Client(
            "Claude Desktop",
            "Settings → Developer → Edit Config opens claude_desktop_config.json. Add this "
            "and restart Claude Desktop (mcp-remote bridges it to this HTTP endpoint; needs "
            "Node.js).",
            "json",
            _json_snippet({"mcpServers": {name: {"command": "npx", "args": bridge}}}),
        ),
        Client(
            "Claude Code",
            "Run in a terminal:",
            "shell",
            f"claude mcp add --transport http {shlex.quote(name)} {URL}{flag}",
        ),
        Client(
            "Cursor",
            "Add to ~/.cursor/mcp.json (or .cursor/mcp.json in a project):",
            "json",
            _json_snippet({"mcpServers": {name: {"url": URL, **headers}}}),
        ),
        Client(
            "Windsurf",
            "Add to ~/.codeium/windsurf/mcp_config.json, then refresh the MCP list:",
            "json",
            _json_snippet({"mcpServers": {name: {"serverUrl": URL, **headers}}}),
        ),
        Client(
            "VS Code",
            "Add to .vscode/mcp.json (or run “MCP: Open User Configuration”):",
            "json",
            _json_snippet({"servers": {name: {"type": "http", "url": URL, **headers}}}),
        ),
        Client(
            "OpenCode",
            "Add to opencode.json (or ~/.config/opencode/opencode.json):",
            "json",
            _json_snippet(
                {
                    "$schema": "https://opencode.ai/config.json",
                    "mcp": {name: {"type": "remote", "url": URL, "enabled": True, **headers}},
                }
            ),
        ),
        Client(
            "MCP Inspector",
            "List the tools from a terminal (or run npx @modelcontextprotocol/inspector and "
            "connect with transport “Streamable HTTP” to the URL):",
            "shell",
            f"npx @modelcontextprotocol/inspector --cli {URL} --transport http{flag} "
            "--method tools/list",
        ),
    ]
