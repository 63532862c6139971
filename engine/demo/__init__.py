"""The built-in demo portals: `mcp-server-time`, `mcp-server-git` on a throwaway repository
(`engine.demo.gitrepo`) and a bundled notes server (`engine.demo.notes`), all over stdio.

`portal.toml` in this package is the demo (`codemode serve`); `signin.toml` is the same
servers behind the built-in `dev` sign-in with access policies (`codemode serve --demo
signin`). `demo_config()` loads one with `python` replaced by the running interpreter, so the
demo works from any virtual environment.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import resources
from typing import Any

from engine.config import Config

DEMOS = {
    "portal": "portal.toml",
    "signin": "signin.toml",
}
"""The built-in demos by name (`codemode serve --demo NAME`) and their files in this package."""

DEFAULT_DEMO = "portal"

DEMO_SOURCE = "<built-in demo>"
"""How errors and listings name the demo config."""


def demo_source(name: str = DEFAULT_DEMO) -> str:
    return DEMO_SOURCE if name == DEFAULT_DEMO else f"<built-in demo {name}>"


def demo_toml(name: str = DEFAULT_DEMO) -> str:
    if name not in DEMOS:
        raise KeyError(name)
    return resources.files(__package__).joinpath(DEMOS[name]).read_text(encoding="utf-8")


def demo_data(python: str = sys.executable, name: str = DEFAULT_DEMO) -> dict[str, Any]:
    """The demo config as plain data, each `python` command replaced by `python`."""
    data = tomllib.loads(demo_toml(name))
    for server in data["servers"]:
        if server.get("command") == "python":
            server["command"] = python
    return data


def demo_config(name: str = DEFAULT_DEMO) -> Config:
    return Config.from_dict(demo_data(name=name), source=demo_source(name))
