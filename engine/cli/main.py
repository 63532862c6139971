"""The entry point: arguments, logging, signals and exit codes around one command."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import importlib.metadata
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence

from engine.cli.commands import (
    CODE_TOOLS,
    Command,
    check_config,
    cmd_admin_token,
    cmd_export,
    cmd_import,
    cmd_run,
    cmd_serve,
    cmd_status,
    cmd_tools,
)
from engine.cli.connect import add_connect_command, cmd_connect
from engine.cli.exits import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
)
from engine.cli.remote import status_of_running_portal
from engine.cli.upstream_auth import add_auth_command, cmd_auth
from engine.config import Config, ConfigError
from engine.demo import DEMOS, demo_config
from engine.server import signals
from engine.server.signals import Stop
from engine.surfaces import Surface
from engine.upstream import STARTUP_STATUS

log = logging.getLogger("codemode.cli")

DEFAULT_GRACE_S = 20.0
"""How long `serve` lets requests in flight finish after SIGTERM / Ctrl-C before cutting them:
long enough for most code runs, short enough for a supervisor's stop timeout (systemd 90 s,
Kubernetes 30 s)."""


_EPILOG = """\
exit codes: 0 success; 1 the run or tool call failed; 2 bad usage or bad config;
3 upstream servers unavailable (status with a server in Error); 130 interrupted (Ctrl-C).
Without --config, serve/tools/run/status use the built-in demo portal (--demo signin: the
same servers behind the dev sign-in).
Set CODEMODE_ADMIN_TOKEN to enable the admin API of `serve` (and for `status --url`)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codemode",
        description="Self-hosted MCP server portal with a code-mode sandbox.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging (with tracebacks) to stderr"
    )
    try:
        version = importlib.metadata.version("codemode-engine")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        version = "unknown (not installed)"
    parser.add_argument("--version", action="version", version=f"codemode {version}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help,
            description=help,
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
        return sub

    serve = command("serve", "serve the portals over HTTP (or one portal over stdio)")
    serve.description = (
        f"{serve.description}\n\nSIGHUP re-reads --config and applies policies, API keys, "
        "[identity] texts and scopes, names and\ncuration to the next request; what needs a "
        "restart (servers' transport, adding or removing\nportals and servers, [settings], the "
        "identity provider) is logged and keeps its running value."
    )
    _config_option(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="port to listen on (8787)")
    serve.add_argument(
        "--public-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept requests whose Host is NAME or NAME:PORT (e.g. behind a proxy); "
        "repeatable. Others are refused (DNS-rebinding protection)",
    )
    serve.add_argument(
        "--grace",
        type=_grace,
        default=DEFAULT_GRACE_S,
        metavar="SECONDS",
        help=f"on SIGTERM or Ctrl-C, stop accepting connections, end open notification "
        f"streams and let requests in flight (code runs) finish for up to SECONDS, then cut "
        f"them ({DEFAULT_GRACE_S:g}); a second Ctrl-C cuts them at once",
    )
    serve.add_argument(
        "--drain",
        type=_grace,
        default=0.0,
        metavar="SECONDS",
        help="on SIGTERM, first answer /readyz with 503 and go on serving for SECONDS, so a "
        "load balancer sends new requests elsewhere; then stop as --grace says (0)",
    )
    serve.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="serve from N processes sharing the port, each with its own upstream connections; "
        "they share the store (settings.database_url: SQLite or PostgreSQL) (1)",
    )
    serve.add_argument("--worker-of", default=None, help=argparse.SUPPRESS)
    serve.add_argument("--stdio", action="store_true", help="serve one portal over stdin/stdout")
    _surface_option(serve, list(Surface), Surface.ALL, "surface of --stdio (all)")
    _portal_option(serve)

    tools = command("tools", "list the tools a client sees, with token counts per surface")
    _config_option(tools)
    _portal_option(tools)
    _surface_option(tools, list(Surface), None, "list this surface's tools (default: a table)")
    tools.add_argument("--json", action="store_true", help="print JSON")

    run = command("run", "run JavaScript against the portal; print result, logs and errors")
    _config_option(run)
    _portal_option(run)
    _surface_option(run, list(CODE_TOOLS), Surface.CODEMODE, "code or execute tool (codemode)")
    run.add_argument("code", metavar="CODE", help="the code to run, or - to read it from stdin")

    status = command(
        "status",
        "show each upstream server's state: from fresh connections to the config's servers, "
        "or (--url) as a running serve sees them",
    )
    _config_option(status)
    status.add_argument(
        "--url",
        metavar="URL",
        help="ask the running `codemode serve` at URL (e.g. http://127.0.0.1:8787) through its "
        "admin API, with the token in the environment variable CODEMODE_ADMIN_TOKEN",
    )
    status.add_argument("--json", action="store_true", help="print JSON")

    tokens = command(
        "admin-token",
        "create, list or revoke the named admin tokens of the admin API, kept (hashed) in the "
        "store of the config's settings.database_url; `serve` reads them when the config has "
        "an [admin] (or [identity]) table",
    )
    actions = tokens.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a token NAME and print it (only once)")
    create.add_argument("name", metavar="NAME")
    create.add_argument(
        "--write", action="store_true", help="write permission (default: read only)"
    )
    actions.add_parser("list", help="list the tokens: names, permissions, dates (no secrets)")
    revoke = actions.add_parser("revoke", help="revoke the token NAME (it stops working at once)")
    revoke.add_argument("name", metavar="NAME")
    for sub in actions.choices.values():
        _config_option(sub)

    export = command(
        "export",
        "write the running configuration as TOML: the config file's tables with the portals "
        'and servers of the store ([admin] config = "store"); secrets stay in the store',
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    _config_option(export)
    imported = command(
        "import",
        "replace the store's portals and servers with those of FILE (a config file, e.g. one "
        "`export` wrote); the store's secrets of servers that keep their id stay; a running "
        "`serve` sees them after a restart",
    )
    imported.add_argument("file", metavar="FILE")
    _config_option(imported)
    connect = command(
        "connect",
        "connect to one OAuth-protected MCP server as the portal connects to an `oauth` "
        "upstream (discovery, registration or a given client, PKCE, token), print its tools",
    )
    add_connect_command(connect)

    auth = command(
        "auth",
        'authorize the running portal at an auth_type = "oauth" server: print the URL to '
        "open, return when the browser came back to the portal (needs CODEMODE_ADMIN_TOKEN)",
    )
    add_auth_command(auth)

    check = command(
        "check-config",
        "validate a config file; every problem names its key. Also checks what it refers to "
        "here (commands on PATH, variables, files): what is missing may exist at run time, so "
        "it is a warning, and warnings alone exit 0",
    )
    check.add_argument("path", metavar="PATH")
    return parser


def _workers(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"takes a number of processes from 1 to 64, not {text!r}")
    return int(text)


def _grace(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"takes a number of seconds >= 0, not {text!r}")
    return seconds


def _config_option(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--config", metavar="PATH", help="config file (TOML); default: the built-in demo"
    )
    source.add_argument(
        "--demo",
        choices=sorted(DEMOS),
        help="a built-in demo instead of --config: portal (the default) or signin (the same "
        "servers behind the dev sign-in, with access policies; loopback only)",
    )


def _portal_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--portal", metavar="ID", help="portal id (needed if there are several)")


def _surface_option(
    parser: argparse.ArgumentParser, choices: list[Surface], default: Surface | None, help: str
) -> None:
    names = [c.value for c in choices]

    def parse(text: str) -> Surface:
        if text not in names:
            raise argparse.ArgumentTypeError(
                f"unknown surface {text!r}; choose from {', '.join(names)}"
            )
        return Surface(text)

    parser.add_argument(
        "--surface", type=parse, default=default, metavar="{" + ",".join(names) + "}", help=help
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code; called as the program (`argv` None), exit.

    The CLI handles SIGINT/SIGTERM from here on (see `Stop`). As the program it keeps that
    handler to the end and leaves by `_exit`, so a Ctrl-C during the interpreter's teardown
    neither kills it by signal nor prints a traceback; called with `argv` (tests), the previous
    handlers come back when it returns."""
    stop = Stop()
    with stop.installed(restore=argv is not None):
        code = _main(argv, stop)
        if argv is None:
            _exit(code)
    return code


def _exit(code: int) -> None:
    """End the process now: atexit handlers and a flush, then no interpreter teardown.

    Everything the commands open is closed when they return (upstream processes reaped, the
    request log flushed). The teardown after that only frees memory, yet takes a second or more,
    and once it has reset the signal handlers a Ctrl-C kills the process (exit -2)."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to tell
            stream.flush()
    os._exit(code)


def _main(argv: Sequence[str] | None, stop: Stop) -> int:
    args = None
    try:
        args = build_parser().parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # for `serve --workers`
        verbose: bool = getattr(args, "verbose", False)
        _setup_logging(verbose, args.command)
        if args.command == "check-config":
            return check_config(args.path, sys.stdout)
        if args.command == "status" and args.url is not None:
            if args.config is not None or args.demo is not None:
                raise CliError("status takes --config (or --demo) or --url, not both")
            code = _run_async(functools.partial(status_of_running_portal, args), stop)
        elif args.command == "connect":
            code = _run_async(functools.partial(cmd_connect, args), stop)
        elif args.command == "auth":
            code = _run_async(functools.partial(cmd_auth, args), stop)
        else:
            config = load_config(args.config, command=args.command, demo=args.demo)
            run = functools.partial(_COMMANDS[args.command], config, args, stop)
            code = _run_async(run, stop)
        return _exit_code(stop, args.command, code)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"codemode: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        if stop.signal is None:  # not from a signal: someone raised it
            stop.signal, stop.interrupted = signal.SIGINT, True
        command = args.command if args is not None else ""
        return _exit_code(stop, command, EXIT_INTERRUPTED)
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        hint = "" if getattr(args, "verbose", False) else " (run with -v for details)"
        print(f"codemode: error: {_describe(exc)}{hint}", file=sys.stderr)
        return EXIT_FAILED


def _setup_logging(verbose: bool, command: str) -> None:
    # One-shot commands report upstream trouble in their own output; a server logs it.
    quiet = logging.WARNING if command == "serve" else logging.ERROR
    logging.basicConfig(
        level=logging.DEBUG if verbose else quiet,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Every command prints each server's start-up status once (`connected`): the upstream's
    # log record of the same failure would say it a second time.
    for handler in logging.getLogger().handlers:
        handler.addFilter(lambda record: not getattr(record, STARTUP_STATUS, False))
    if command == "serve" and not verbose:
        logging.getLogger("codemode.reload").setLevel(logging.INFO)  # what a reload applied
        # Where portals and servers come from (seeded, or the store), and who changed them.
        logging.getLogger("codemode.config").setLevel(logging.INFO)
        logging.getLogger("codemode.admin").setLevel(logging.INFO)
    if not verbose:
        # The SDK logs each failed OAuth flow with a traceback; we report its cause once.
        logging.getLogger("mcp.client.auth").setLevel(logging.CRITICAL)


def _describe(exc: BaseException) -> str:
    exc = signals.only_exception(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


_READ_ONLY_COMMANDS = frozenset({"status", "tools"})
"""Commands that only look: they keep the request log in memory and create no files."""


def load_config(path: str | None, command: str | None = None, demo: str | None = None) -> Config:
    config = demo_config(demo or "portal") if path is None else Config.load(path)
    if command not in _READ_ONLY_COMMANDS:
        return config
    quiet = config.settings.model_copy(
        update={"request_log_path": None, "request_log_jsonl_path": None}
    )
    return config.model_copy(update={"settings": quiet})


def _exit_code(stop: Stop, command: str, code: int | None) -> int:
    """The exit code of `command`, given the signals that came while it ran."""
    if stop.signal is None:
        return EXIT_INTERRUPTED if code is None else code
    if command == "serve" and not stop.interrupted:
        return EXIT_OK  # stopped by SIGTERM, as a supervisor does
    print("codemode: interrupted", file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED


def _run_async(command: Callable[[], Awaitable[int]], stop: Stop) -> int | None:
    return signals.run(command, stop)


_COMMANDS: dict[str, Command] = {
    "serve": cmd_serve,
    "tools": cmd_tools,
    "run": cmd_run,
    "status": cmd_status,
    "admin-token": cmd_admin_token,
    "export": cmd_export,
    "import": cmd_import,
}
