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
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.stdio import stdio_server

from engine.mcp_server import build_server
from engine.portal import Portal
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
    # Upstream tool and prompt lists change at run time; say so, so clients re-list.
    options = server.create_initialization_options(
        NotificationOptions(tools_changed=True, prompts_changed=True)
    )
    async with stdio_server(stdin, stdout) as (read_stream, write_stream):
        await server.run(read_stream, write_stream, options)
