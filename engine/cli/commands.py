"""The commands: `serve`, `tools`, `run`, `status` and `check-config`, each from a loaded config
to its output and exit code."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TextIO

import anyio
from mcp_types import Tool

from engine.auth import policy_warnings
from engine.cli.exits import (
    EXIT_FAILED,
    EXIT_OK,
    CliError,
)
from engine.cli.gc_policy import tune_for_serving
from engine.cli.report import (
    count,
    print_run_result,
    print_surface_table,
    print_tool_list,
    report_status,
    status_line,
    unavailable,
)
from engine.cli.workers import Worker, reserved_port, run_workers, watching_parent
from engine.config import Config, ConfigError
from engine.config_store import export_toml, import_config, keep_file_entries, running_config
from engine.environment import environment_problems
from engine.gateway import Gateway
from engine.portal import Portal
from engine.server.admin import ADMIN_TOKEN_ENV
from engine.server.serve import (
    ListenError,
    ServeError,
    dev_sign_in_refusal,
    is_loopback,
    listen,
    portal_urls,
    reload_config,
    serve_http,
)
from engine.server.signals import Hangup, Stop
from engine.status import ServerState
from engine.surfaces import Surface
from stubs import count_tokens

CODE_TOOLS = {Surface.CODEMODE: "code", Surface.SEARCH_AND_EXECUTE: "execute"}


Command = Callable[[Config, argparse.Namespace, Stop], Awaitable[int]]


@contextlib.asynccontextmanager
async def connected(config: Config, out: TextIO) -> AsyncIterator[Gateway]:
    """Enter a Gateway, printing progress to `out` as each upstream settles (portals and
    servers from the store with `[admin] config = "store"`)."""
    config = await running_config(config)
    gateway = Gateway(config)
    printed: set[str] = set()
    total = len(config.servers)

    def report(server_id: str) -> None:
        status = gateway.catalog.status().get(server_id)
        if status is None or status.state is ServerState.WAITING or server_id in printed:
            return
        printed.add(server_id)
        print(f"  {server_id}: {status_line(status)}", file=out, flush=True)

    noun = "server" if total == 1 else "servers"
    print(f"connecting {total} upstream {noun} ...", file=out, flush=True)
    gateway.catalog.on_change(report)
    async with gateway:
        for server_id in gateway.catalog.server_ids:
            if server_id not in printed:
                status = gateway.catalog.status()[server_id]
                printed.add(server_id)
                print(f"  {server_id}: {status_line(status)}", file=out, flush=True)
        yield gateway


def portal_id(config: Config, wanted: str | None) -> str:
    """The portal a command acts on: `wanted`, or the config's only portal."""
    ids = [p.id for p in config.portals]
    if wanted is not None:
        if wanted not in ids:
            raise CliError(f"no portal {wanted!r} in the config (portals: {', '.join(ids)})")
        return wanted
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise CliError("the config has no [[portals]]; add one to serve its servers")
    raise CliError(f"the config has {len(ids)} portals ({', '.join(ids)}); choose with --portal")


async def cmd_serve(config: Config, args: argparse.Namespace, stop: Stop) -> int:
    if args.stdio and args.workers > 1:
        raise CliError("--workers serves over HTTP; it does not go with --stdio")
    if args.stdio:
        return await _serve_stdio(config, args)
    return await _serve_http(config, args, stop)


async def _serve_stdio(config: Config, args: argparse.Namespace) -> int:
    from engine.server.stdio import serve_stdio

    pid = portal_id(config, args.portal)
    async with connected(config, sys.stderr) as gateway:
        print(f"serving portal {pid!r} ({args.surface.value}) on stdio", file=sys.stderr)
        await serve_stdio(gateway.portal(pid), args.surface)
    return EXIT_OK


async def _serve_http(config: Config, args: argparse.Namespace, stop: Stop) -> int:
    if args.portal is not None or not config.portals:
        portal_id(config, args.portal)  # serves every portal; check the id, or that there is one
    refusal = dev_sign_in_refusal(config, args.host)
    if refusal is not None:
        raise CliError(refusal)
    worker = Worker.parse(args.worker_of)
    if args.workers > 1 and worker is None:
        return await _serve_workers(args, stop)
    try:
        sock = listen(args.host, args.port, reuse_port=worker is not None)
    except ListenError as exc:
        raise CliError(str(exc)) from None
    if not is_loopback(args.host) and (worker is None or worker.number == 1):
        print(
            f"warning: listening on {args.host}, reachable from other machines as you chose; "
            "protect portals with api_keys. Requests must name localhost, a portal hostname "
            "or a --public-host in their Host header",
            file=sys.stderr,
        )
    # SIGHUP re-reads --config from here on (one during start-up: once serving).
    with sock, Hangup().installed() as hangup:
        async with connected(config, sys.stderr) as gateway, watching_parent(worker):
            hangup.listen(lambda: reload_config(gateway, args.config))
            urls = portal_urls(gateway, sock)
            if worker is not None and worker.number > 1:
                urls = [f"worker {worker.number} is serving"]
            try:
                started = await serve_http(
                    gateway,
                    sock,
                    stop,
                    admin_token=os.environ.get(ADMIN_TOKEN_ENV),
                    public_hosts=args.public_host,
                    grace_s=args.grace,
                    drain_s=args.drain,
                    worker=None if worker is None else worker.number,
                    verbose=getattr(args, "verbose", False),
                    on_serving=lambda: _serving(urls),
                )
            except ServeError as exc:
                raise CliError(str(exc), EXIT_FAILED) from None
            print("stopping: closing upstream connections ...", file=sys.stderr, flush=True)
    if not started and stop.signal is None:
        raise CliError("the HTTP server did not start (see the log above)", EXIT_FAILED)
    return EXIT_OK


def _serving(urls: list[str]) -> None:
    tune_for_serving()
    print("\n".join(urls), flush=True)


async def _serve_workers(args: argparse.Namespace, stop: Stop) -> int:
    """The parent of `serve --workers N`: holds the port, runs and stops the workers."""
    if args.port == 0:  # each worker would get a port of its own
        raise CliError("--workers needs a fixed --port, not 0")
    try:
        with reserved_port(args.host, args.port):
            return await run_workers(args.argv, args.workers, stop)
    except ListenError as exc:
        raise CliError(str(exc)) from None


def tools_list_json(tools: Sequence[Tool]) -> str:
    """The tools/list result as a client receives it (the SDK serialises compactly)."""
    payload = {
        "tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def surface_report(portal: Portal, surface: Surface) -> dict[str, Any]:
    tools = portal.list_tools(surface)
    return {
        "tool_count": len(tools),
        "tokens": count_tokens(tools_list_json(tools)),
        "tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools],
    }


async def cmd_tools(config: Config, args: argparse.Namespace, stop: Stop) -> int:
    pid = portal_id(config, args.portal)
    async with connected(config, sys.stderr) as gateway:
        portal = gateway.portal(pid)
        chosen = [args.surface] if args.surface is not None else list(Surface)
        reports = {s.value: surface_report(portal, s) for s in chosen}
        down = unavailable(portal.status())
    if args.json:
        print(json.dumps({"portal": pid, "surfaces": reports}, indent=2))
    elif args.surface is not None:
        print_tool_list(reports[args.surface.value])
    else:
        print_surface_table(pid, reports)
    for server_id, cause in down.items():
        print(
            f"warning: {server_id} is unavailable, its tools are missing: {cause}", file=sys.stderr
        )
    return EXIT_OK


async def cmd_run(config: Config, args: argparse.Namespace, stop: Stop) -> int:
    code = sys.stdin.read() if args.code == "-" else args.code
    pid = portal_id(config, args.portal)
    surface: Surface = args.surface
    async with connected(config, sys.stderr) as gateway:
        result = await gateway.portal(pid).call_tool(surface, CODE_TOOLS[surface], {"code": code})
    return print_run_result(result, sys.stdout, sys.stderr)


async def cmd_status(config: Config, args: argparse.Namespace, stop: Stop) -> int:
    demo = "the built-in demo" + (f" {args.demo}" if getattr(args, "demo", None) else "")
    source = args.config or demo
    print(f"status from a fresh connection to the upstreams of {source}", file=sys.stderr)
    async with connected(config, sys.stderr) as gateway:
        statuses = gateway.catalog.status()
    return report_status(statuses, args.json)


def check_config(path: str, out: TextIO) -> int:
    """Validate without connecting: problems raise ConfigError (printed by main, exit 2).

    What the config refers to is checked here too: a command not on PATH, an unset variable
    or an absent file is a warning (it may be there at run time), printed with its key. So is
    a portal or server nobody can see (`engine.auth.policy_warnings`): with [identity] set,
    each one without policies."""
    config = Config.load(path)
    errors, warnings = environment_problems(config)
    warnings += policy_warnings(config)
    if errors:
        for warning in warnings:
            print(f"warning: {warning.render(path)}", file=out)
        raise ConfigError(errors, path)
    servers = ", ".join(s.id for s in config.servers) or "none"
    verdict = f"valid, with {count(len(warnings), 'warning')}" if warnings else "OK"
    print(f"{path}: {verdict}: {count(len(config.servers), 'server')} ({servers})", file=out)
    for portal in config.portals:
        code = f"code mode {portal.code_mode}"
        host = portal.hostname or "localhost only"
        print(
            f"  portal {portal.id}: {count(len(portal.servers), 'server')}, {host}, {code}",
            file=out,
        )
    if not config.portals:
        print("  no portals: nothing will be served", file=out)
    for warning in warnings:
        print(f"warning: {warning.render(path)}", file=out)
    if warnings:
        print(
            f"{path}: {count(len(warnings), 'warning')}: what is missing here must be there "
            "where codemode runs",
            file=out,
        )
    return EXIT_OK


async def cmd_admin_token(config: Config, args: argparse.Namespace, stop: Stop) -> int:
    """`admin-token create|list|revoke`: the named admin tokens in the config's store."""
    from engine.store import AdminTokenError, StoreError, open_store

    out = sys.stdout
    try:
        async with open_store(config.settings) as store:
            tokens = store.admin_tokens
            if args.action == "create":
                token = await tokens.create(args.name, "write" if args.write else "read")
                permission = "write" if args.write else "read"
                print(token, file=out)
                print(
                    f"admin token {args.name!r} ({permission}) created. It is shown only "
                    "now: keep it in a secret store. Send it as `Authorization: Bearer "
                    "<token>`.",
                    file=sys.stderr,
                )
                if not config.uses_store:
                    print(
                        "warning: this config has no [admin] table, so `codemode serve` does "
                        "not open the store and will not accept this token; add `[admin]`.",
                        file=sys.stderr,
                    )
            elif args.action == "list":
                rows = await tokens.list()
                if not rows:
                    print("no admin tokens", file=out)
                for t in rows:
                    state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}Z" if t.revoked_at else "live"
                    created = f"{t.created_at:%Y-%m-%d %H:%M}Z"
                    print(f"{t.name}\t{t.permission}\tcreated {created}\t{state}", file=out)
            else:
                revoked = await tokens.revoke(args.name)
                print(f"admin token {revoked.name!r} revoked", file=out)
    except (AdminTokenError, StoreError) as exc:
        raise CliError(str(exc)) from None
    return EXIT_OK


async def cmd_export(config: Config, args: argparse.Namespace, stop: Stop) -> int:
    """`export`: the running configuration as TOML (store mode: the store's portals and
    servers, seeding an empty store first, exactly as `serve` would)."""
    from engine.store import StoreError

    try:
        text = export_toml(await running_config(config))
    except StoreError as exc:
        raise CliError(str(exc)) from None
    if args.output:
        await anyio.Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


async def cmd_import(config: Config, args: argparse.Namespace, stop: Stop) -> int:
    """`import FILE`: FILE's portals and servers replace the store's (validated against the
    config's policies first; nothing is written if anything is wrong)."""
    from engine.store import StoreError, open_store

    if not config.config_in_store:
        raise CliError(
            "import writes to the store, but this config keeps portals and servers in its file "
            '([admin] config = "store" is needed; without [admin] there is no store)'
        )
    loaded = Config.load(args.file)
    checked = keep_file_entries(loaded, config)
    try:
        async with open_store(config.settings) as store:
            changed = await import_config(store, checked)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    print(
        f"imported {count(len(checked.servers), 'server')} and "
        f"{count(len(checked.portals), 'portal')} from {args.file} ({changed} changed); "
        "restart `codemode serve` to run them",
        file=sys.stderr,
    )
    return EXIT_OK
