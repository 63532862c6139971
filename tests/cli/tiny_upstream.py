"""A minimal stdio MCP server with no imports beyond the standard library, so it starts in
milliseconds: one tool, no prompts. Used where a real upstream process is needed but the SDK's
start-up time is not (Ctrl-C tests).

    python -S tests/cli/tiny_upstream.py PIDFILE [DELAY_S]

Writes its pid to PIDFILE, then answers each request; `initialize` after DELAY_S seconds, so
a test can catch the portal while it connects.
"""

import json
import os
import sys
import time
from pathlib import Path


def portal_config(directory: Path, python: str, delay_s: float = 0.0) -> Path:
    """Write `directory/portal.toml`: portal `solo` with this server as `tiny`, whose pid goes
    to `directory/upstream.pid`."""
    config = directory / "portal.toml"
    args = ["-S", __file__, str(directory / "upstream.pid"), str(delay_s)]
    config.write_text(
        "[[servers]]\n"
        'id = "tiny"\n'
        f"command = {json.dumps(python)}\n"
        f"args = {json.dumps(args)}\n"
        '[[portals]]\nid = "solo"\n[[portals.servers]]\nserver_id = "tiny"\n'
        '[settings]\nrequest_log_path = ":memory:"\n',
        encoding="utf-8",
    )
    return config


def main() -> None:
    with open(sys.argv[1], "w", encoding="utf-8") as pidfile:
        pidfile.write(str(os.getpid()))
    delay = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    results = {
        "initialize": lambda params: {
            "protocolVersion": params["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "tiny", "version": "0"},
        },
        "tools/list": lambda params: {
            "tools": [{"name": "echo", "inputSchema": {"type": "object"}}]
        },
        "ping": lambda params: {},
    }
    for line in sys.stdin:
        message = json.loads(line)
        if "id" not in message:
            continue  # a notification
        method = message.get("method")
        answer: dict[str, object] = {"jsonrpc": "2.0", "id": message["id"]}
        if method in results:
            if method == "initialize":
                time.sleep(delay)
            answer["result"] = results[method](message.get("params") or {})
        else:
            answer["error"] = {"code": -32601, "message": f"method not found: {method}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
