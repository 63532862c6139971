"""Regenerate the stubs corpus: the real `tools/list` output of six reference MCP servers.

Run from the repository root (needs `npm ci` for the npm servers and the dev extra for the
PyPI ones):

    python -m benchmarks.make_corpus

Each server is started over stdio with the mcp 2.x client; its tools are saved, in the JSON
shape of a `tools/list` entry, to `tests/stubs/fixtures/<server>.json`. Those files are
committed: tests and benchmarks read them without starting anything.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "stubs" / "fixtures"
NODE_BIN = ROOT / "node_modules" / ".bin"
# tools/list pages are followed at most this many times (a misbehaving server cannot loop us).
MAX_PAGES = 50
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class CorpusServer:
    name: str
    command: str
    args: tuple[str, ...] = ()


def _servers(workdir: Path) -> list[CorpusServer]:
    repo = workdir / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    files = workdir / "files"
    files.mkdir()
    venv_bin = Path(sys.executable).parent
    return [
        CorpusServer("time", str(venv_bin / "mcp-server-time")),
        CorpusServer("git", str(venv_bin / "mcp-server-git"), ("--repository", str(repo))),
        CorpusServer("fetch", str(venv_bin / "mcp-server-fetch")),
        CorpusServer("everything", str(NODE_BIN / "mcp-server-everything")),
        CorpusServer("memory", str(NODE_BIN / "mcp-server-memory")),
        CorpusServer("filesystem", str(NODE_BIN / "mcp-server-filesystem"), (str(files),)),
    ]


async def list_tools(server: CorpusServer, cwd: Path) -> list[dict[str, Any]]:
    """Start one server over stdio and return every tool it lists, as JSON dicts."""
    params = StdioServerParameters(command=server.command, args=list(server.args), cwd=cwd)
    tools: list[dict[str, Any]] = []
    with anyio.fail_after(TIMEOUT_S):
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            cursor: str | None = None
            for _ in range(MAX_PAGES):
                page = await session.list_tools(
                    params=None if cursor is None else _page_params(cursor)
                )
                tools.extend(
                    t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in page.tools
                )
                cursor = page.next_cursor
                if cursor is None:
                    break
    return tools


def _page_params(cursor: str) -> Any:
    import mcp_types

    return mcp_types.PaginatedRequestParams(cursor=cursor)


async def main() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="codemode-corpus-"))
    try:
        for server in _servers(workdir):
            tools = await list_tools(server, workdir)
            out = FIXTURES / f"{server.name}.json"
            out.write_text(json.dumps(tools, indent=2, ensure_ascii=False) + "\n")
            print(f"{server.name}: {len(tools)} tools -> {out.relative_to(ROOT)}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    anyio.run(main)
