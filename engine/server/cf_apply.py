"""Applying one admin-API write: the whole new config validated, stored and run, or nothing.

One lock (`Gateway.config_lock`, shared with `engine.config_follow`) serializes writes, so
the last complete write wins and no two interleave: inside it the store's latest config is
caught up with (written by another process), then the change is computed from the config
running now, validated whole (`engine.config_store.with_entries`: `Config` validation and
`cross_problems`), written to the store in a transaction, and run by `Gateway.apply` before
that transaction commits; if the apply fails the store write is rolled back and the running
config is untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from engine.config import Config, ConfigError, ConfigProblem
from engine.config_store import objects, secrets_of, with_entries
from engine.credentials import StoredCredentials
from engine.server.admin import ApiError

if TYPE_CHECKING:
    from engine.gateway import Gateway
    from engine.store.configs import Stamp

log = logging.getLogger("codemode.admin")
Problem = tuple[str, str]
Entries = list[dict[str, Any]]


@dataclass(frozen=True)
class Change:
    """The whole set of entries a write wants, and the object it is about (for messages)."""

    servers: Entries
    portals: Entries
    secrets: dict[str, StoredCredentials]
    kind: str
    index: int | None
    problems: list[Problem]


class ApiProblems(ApiError):
    """A 400 listing every problem, each `{code, message}` naming its field."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        messages = [f"{path}: {message}" if path else message for path, message in problems]
        super().__init__(400, "; ".join(messages))
        self.messages = messages

    def response(self) -> Response:
        body = {
            "result": None,
            "success": False,
            "errors": [{"code": 400, "message": m} for m in self.messages],
            "messages": [],
        }
        return JSONResponse(body, status_code=400)


def read_only_reason(config: Config) -> str | None:
    if config.config_in_store:
        return None
    why = (
        '[admin] config = "file"'
        if config.admin is not None
        else "the config has no [admin] table (portals and servers live in the store only "
        'with [admin] config = "store", the default once [admin] is there)'
    )
    return (
        f"this portal's configuration is read-only through the API: {why}. Change portals "
        "and servers by editing the config file (then SIGHUP or restart). Reading and "
        "servers/{id}/sync work."
    )


_RENAMES = {
    "server": (
        ("url", "hostname"),
        ("server_alias", "alias"),
        ("server_description", "description"),
    ),
    "portal": (("portal_alias", "alias"), ("portal_description", "description")),
}


def _api_path(problem: ConfigProblem, change: Change) -> Problem:
    """A config path as the API's body names it: the object written is the body; another
    object is named by kind and id."""
    path = problem.path
    own = f"{change.kind}s[{change.index}]"
    if change.index is not None and (path == own or path.startswith(own + ".")):
        path = path[len(own) + 1 :]
        for ours, theirs in _RENAMES[change.kind]:
            path = ".".join(theirs if part == ours else part for part in path.split("."))
        return path, problem.message
    for kind, entries in (("servers", change.servers), ("portals", change.portals)):
        for i, item in enumerate(entries):
            prefix = f"{kind}[{i}]"
            if path == prefix or path.startswith(prefix + "."):
                rest = path[len(prefix) + 1 :]
                who = f"{kind[:-1]} {item.get('id')!r}"
                return f"{who} {rest}".strip(), problem.message
    return path, problem.message


class ConfigWriter:
    """Serialized, all-or-nothing writes of the running config (see the module)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def stamps(self) -> dict[tuple[str, str], Stamp]:
        store = self.gateway.store
        if store is None or not self.gateway.config.config_in_store:
            return {}
        return await store.configs.stamps()

    async def write(
        self, make: Callable[[Config, dict[str, StoredCredentials]], Change], *, by: str
    ) -> Config:
        """Run the config `make(current, secrets)` describes, stored; raise `ApiProblems`
        (400) listing every problem, or `ApiError` (nothing changed in either case)."""
        async with self.gateway.config_lock:
            # Another replica's write not yet followed here would otherwise be overwritten.
            await self.gateway.catch_up_with_store()
            current = self.gateway.config
            reason = read_only_reason(current)
            store = self.gateway.store
            if reason is not None or store is None:
                raise ApiError(405, reason or "the store is not open", {"Allow": "GET"})
            change = make(current, secrets_of(current))
            problems = list(change.problems)
            try:
                new = with_entries(current, change.servers, change.portals, change.secrets)
            except ConfigError as exc:
                found = [_api_path(p, change) for p in exc.problems]
                problems += [p for p in found if p not in problems and not _said(p, problems)]
                raise ApiProblems(problems) from None
            if problems:
                raise ApiProblems(problems)
            try:
                async with store.configs.replacing(objects(new), by=by):
                    await self.gateway.apply(new, by=by)
            except ConfigError as exc:
                raise ApiProblems([(p.path, p.message) for p in exc.problems]) from None
            log.info("admin: %s changed the configuration (%s)", by, change.kind)
            return self.gateway.config


def _said(problem: Problem, problems: list[Problem]) -> bool:
    """A config problem the body checks reported already: allow_code_mode vs code_mode, an
    id taken."""
    paths = {p[0] for p in problems}
    if problem[0] == "code_mode":
        return "allow_code_mode" in paths
    return problem[0] == "id" and problem[1].startswith("duplicate") and "id" in paths
