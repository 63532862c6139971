"""`codemode`: serve portals, show what clients see, run code, check configs.

    codemode serve [--config PATH | --demo signin] [--host 127.0.0.1] [--port 8787]
                   [--public-host NAME] [--grace SECONDS]
    codemode serve --stdio [--config PATH] [--surface S] [--portal ID]
    codemode tools [--config PATH] [--portal ID] [--surface S] [--json]
    codemode run [--config PATH] [--portal ID] [--surface codemode|search_and_execute] CODE|-
    codemode status [--config PATH] [--json]
    codemode status --url http://127.0.0.1:8787 [--json]    (admin token in CODEMODE_ADMIN_TOKEN)
    codemode check-config PATH
    codemode export [--config PATH] [-o FILE]     (portals and servers from the store)
    codemode import FILE [--config PATH]          (they replace the store's)

Without `--config`, `serve`, `tools`, `run` and `status` use the built-in demo portal
(`engine.demo`: mcp-server-time, mcp-server-git on a throwaway repository, a notes server);
`--demo signin` serves the same servers behind the built-in `dev` sign-in.
Commands that connect print progress to stderr while the upstream servers connect.
`status` starts its own connections to the config's upstream servers; with `--url` it asks a
running `serve` instead (its admin API, `GET /api/portals`, with the token from
CODEMODE_ADMIN_TOKEN). Either way its first stderr line says which it reports.

Exit codes:
    0    success
    1    the run or the tool call failed (`run`), `status --url` could not get an answer from
         the portal, or an unexpected error
    2    bad usage or a bad config (every problem is printed with its key); `status --url`
         without CODEMODE_ADMIN_TOKEN, or the portal refused it (wrong token, admin API off)
    3    upstream servers unavailable (`status` with a server in Error)
    130  interrupted (Ctrl-C); `serve` stopped by SIGTERM exits 0
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def _interrupted_while_importing(signum: int, frame: FrameType | None) -> None:
    # Nothing has started yet: no upstream process, no temporary file. Say so and go.
    os.write(2, b"codemode: interrupted\n")
    os._exit(130)


# Loading the engine takes a second or more. Run as the program (the `codemode` script, or
# `python -m engine.cli`, while whose package import `sys.argv[0]` is "-m"), Ctrl-C meanwhile
# exits 130 quietly instead of a KeyboardInterrupt traceback from some import; `main`
# installs the real handler first thing.
if os.path.basename((sys.argv or [""])[0]) in ("codemode", "-m"):
    signal.signal(signal.SIGINT, _interrupted_while_importing)

from engine.cli.main import main  # noqa: E402  (after the guard)

__all__ = ["main"]
