"""The command the conformance suite runs for each OAuth client scenario: it appends the
server URL and sets `MCP_CONFORMANCE_CONTEXT` (JSON: `client_id`, `client_secret` for the
pre-registration scenarios), which become `codemode connect` flags. The secret goes through
an environment variable, as `connect` takes it, never as a flag value."""

from __future__ import annotations

import json
import os
import sys

from engine.cli.main import main

SECRET_ENV = "CONFORMANCE_CLIENT_SECRET"
CIMD_URL = "https://conformance-test.local/client-metadata.json"
"""The client metadata document URL the suite's `auth/basic-cimd` expects as client id."""


def argv(url: str, context: dict[str, object]) -> list[str]:
    args = ["connect", url, "--headless", "--client-metadata-url", CIMD_URL, "--call", "test-tool"]
    if isinstance(context.get("client_id"), str):
        args += ["--client-id", str(context["client_id"])]
    if isinstance(context.get("client_secret"), str):
        os.environ[SECRET_ENV] = str(context["client_secret"])
        args += ["--client-secret-env", SECRET_ENV]
    return args


if __name__ == "__main__":
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    sys.exit(main(argv(sys.argv[-1], context)))
