"""The config of a `codemode serve` process with dev sign-in, for tests that start real
processes: people of example.com may use every server, all in portal `team`."""

from __future__ import annotations

import json
from pathlib import Path


def dev_portal_toml(
    directory: Path,
    servers: dict[str, dict[str, str]],
    *,
    database_url: str,
    settings: dict[str, str | int] | None = None,
) -> Path:
    """Write `portal.toml` in `directory`: `servers` maps each id to its `url` or `command`;
    `settings` adds keys to `[settings]` (the request log is a file in `directory`)."""
    entries = "".join(
        f'\n[[servers]]\nid = "{sid}"\n'
        + "".join(f"{key} = {json.dumps(value)}\n" for key, value in fields.items())
        + 'policies = ["staff"]\n'
        for sid, fields in servers.items()
    )
    refs = ", ".join(f'{{ server_id = "{sid}" }}' for sid in servers)
    extra = {
        "request_log_path": str(directory / "requests.sqlite3"),
        "database_url": database_url,
        **(settings or {}),
    }
    path = directory / "portal.toml"
    path.write_text(
        f"""
[identity]
provider = "dev"

[[policies]]
id = "staff"
decision = "allow"
include = [{{ email_domain = "example.com" }}]
{entries}
[[portals]]
id = "team"
policies = ["staff"]
servers = [{refs}]

[settings]
"""
        + "".join(f"{key} = {json.dumps(value)}\n" for key, value in extra.items()),
        encoding="utf-8",
    )
    return path
