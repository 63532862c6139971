"""Environment variables the tests set for the gateways they start."""

from __future__ import annotations

import os


def restore_env(name: str, previous: str | None) -> None:
    """Put `name` back as it was before a fixture set it. Several fixtures set the same
    variable (the demo server's token, the web tests' upstream token) and their lifetimes
    overlap in a worker's session: one that simply removed it took it away from a gateway
    still running, whose next reconnect then failed ("environment variable ... is not set")."""
    if previous is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = previous
