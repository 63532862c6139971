"""One portal served over stdio, for MCP clients that launch a command (`codemode serve --stdio`).

```python
async with Gateway(config) as gateway:
    await serve_stdio(gateway.portal("demo"), Surface.CODEMODE)
```
The session ends when the client closes stdin. While serving, the SDK's `stdio_server` points
fd 1 at stderr, so stray prints (ours or a library's) never corrupt the JSON-RPC stream.
"""

from __future__ import annotations

import anyio
from mcp.server.stdio import stdio_server

from engine.portal import Portal
from engine.server.mcp_server import build_server
from engine.surfaces import Surface


async def serve_stdio(
    portal: Portal,
    surface: Surface,
    *,
    stdin: anyio.AsyncFile[str] | None = None,
    stdout: anyio.AsyncFile[str] | None = None,
) -> None:
    """Serve `portal` on `surface` over the process's stdin/stdout (or the given files)."""
    server = build_server(portal, surface)
    # The portal server's options announce tools/prompts list_changed: upstream lists change.
    options = server.create_initialization_options()
    async with stdio_server(stdin, stdout) as (read_stream, write_stream):
        await server.run(read_stream, write_stream, options)
