"""The built-in demo portal: `mcp-server-time`, `mcp-server-git` on a throwaway repository
(`engine.demo.gitrepo`) and a bundled notes server (`engine.demo.notes`), all over stdio.

`portal.toml` in this package is the config; `demo_config()` loads it with `python` replaced
by the running interpreter, so the demo works from any virtual environment.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import resources
from typing import Any

from engine.config import Config

DEMO_SOURCE = "<built-in demo>"
"""How errors and listings name the demo config."""


def demo_toml() -> str:
    return resources.files(__package__).joinpath("portal.toml").read_text(encoding="utf-8")


def demo_data(python: str = sys.executable) -> dict[str, Any]:
    """The demo config as plain data, each `python` command replaced by `python`."""
    data = tomllib.loads(demo_toml())
    for server in data["servers"]:
        if server.get("command") == "python":
            server["command"] = python
    return data


def demo_config() -> Config:
    return Config.from_dict(demo_data(), source=DEMO_SOURCE)
