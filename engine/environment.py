"""What a config refers to outside itself, looked up in this process's environment: the
program a stdio server starts, the state directory for files of a config without a directory
of its own, and `environment_problems`, which checks every such reference at once
(`codemode check-config`)."""

from __future__ import annotations

import os
import re
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from engine.config_errors import ConfigProblem
from engine.credentials import (
    ENV_REF,
    CredentialError,
    api_key_hashes,
    read_secret,
    resolve_env,
)

if TYPE_CHECKING:
    from engine.config import Config, ServerConfig


class CommandError(Exception):
    """A stdio server's command cannot be started: not found, not executable, or its `cwd`
    is not a directory (`key` names which). The message says what was searched."""

    def __init__(self, message: str, key: str = "command") -> None:
        super().__init__(message)
        self.key = key


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where files of a config without a directory of its own go (its request log):
    `$XDG_STATE_HOME/codemode`, by default `~/.local/state/codemode` (`%LOCALAPPDATA%\\codemode`
    on Windows); a temporary directory when there is no home."""
    env = os.environ if environ is None else environ
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "codemode"
    if env.get("XDG_STATE_HOME", "").startswith("/"):
        return Path(env["XDG_STATE_HOME"]) / "codemode"
    try:
        return Path.home() / ".local" / "state" / "codemode"
    except RuntimeError:  # no HOME and no passwd entry
        return Path(tempfile.gettempdir()) / "codemode"


def scripts_dirs() -> list[str]:
    """The directories of the environment codemode runs in that hold its programs: where
    `codemode` itself and the MCP servers installed beside it (`mcp-server-time`) are."""
    dirs: list[str] = []
    for folder in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        if folder and folder not in dirs:
            dirs.append(folder)
    return dirs


def resolve_command(server: ServerConfig, environ: Mapping[str, str] | None = None) -> str:
    """The program a stdio server starts, or CommandError saying what was searched.

    A command naming a path is taken as is (relative to the server's `cwd`). A bare name is
    looked up on the server's PATH (its `env` PATH, else the gateway's), then in codemode's
    own scripts directory, so servers installed beside codemode start without activating
    its environment."""
    source = os.environ if environ is None else environ
    command = server.command
    if not command:
        raise CommandError(f"server {server.id!r} has no command (it is a url server)")
    cwd = server.cwd
    if cwd is not None and not os.path.isdir(cwd):
        raise CommandError(f"cannot start {command}: its cwd {cwd} is not a directory", "cwd")
    if os.sep in command or (os.altsep is not None and os.altsep in command):
        path = os.path.join(cwd or os.getcwd(), command)
        if not os.path.exists(path):
            raise CommandError(f"cannot start {command}: command not found (no file {path})")
        if os.path.isdir(path) or not os.access(path, os.X_OK):
            raise CommandError(f"cannot start {command}: {path} is not an executable file")
        return command
    try:
        child_env = resolve_env(server, source)
    except CredentialError:
        child_env = {}  # reported on its own; the lookup goes on with the gateway's PATH
    search = child_env.get("PATH", source.get("PATH", os.defpath))
    extra = [d for d in scripts_dirs() if d not in search.split(os.pathsep)]
    found = shutil.which(command, path=os.pathsep.join([search, *extra]))
    if found is None:
        also = f" or in codemode's scripts directory {os.pathsep.join(extra)}" if extra else ""
        raise CommandError(f"cannot start {command}: command not found on PATH={search}{also}")
    return found


def environment_problems(
    config: Config, environ: Mapping[str, str] | None = None
) -> tuple[list[ConfigProblem], list[ConfigProblem]]:
    """What the config refers to outside itself, checked here and now, as (errors, warnings).

    Warnings are things that are missing here but may be there at run time: a command not
    on this PATH, an unset variable, an absent file, a request log that cannot be created.
    Errors are things that are there and unusable (an empty token file, a malformed
    api_keys_file)."""
    env = os.environ if environ is None else environ
    errors: list[ConfigProblem] = []
    warnings: list[ConfigProblem] = []

    def add(path: str, exc: CredentialError) -> None:
        message = re.sub(r"^(server|portal) '[^']*': ", "", str(exc))
        (warnings if exc.missing else errors).append(ConfigProblem(path, message))

    for i, server in enumerate(config.servers):
        where = f"servers[{i}]"
        if server.command is not None:
            try:
                resolve_command(server, env)
            except CommandError as exc:
                warnings.append(ConfigProblem(f"{where}.{exc.key}", str(exc)))
        for key, value in server.env.items():
            ref = ENV_REF.match(value)
            if ref is not None and ref.group(1) not in env:
                warnings.append(
                    ConfigProblem(
                        f"{where}.env.{key}", f"environment variable {ref.group(1)} is not set"
                    )
                )
        # A credential held by the store is checked when the store opens (serve), not here.
        if server.auth_type == "bearer" and server.url is not None and not server.credentials:
            key = "bearer_token_env" if server.bearer_token_env else "bearer_token_file"
            try:
                read_secret(server, env)
            except CredentialError as exc:
                add(f"{where}.{key}", exc)
        if server.auth_type == "oauth":
            from engine.upstream_oauth import oauth_client_settings  # the mcp SDK: when needed

            key = (
                "oauth_client_secret_env"
                if server.oauth_client_secret_env
                else "oauth_client_secret_file"
            )
            try:
                oauth_client_settings(server, env)
            except CredentialError as exc:
                add(f"{where}.{key}", exc)
    for i, portal in enumerate(config.portals):
        try:
            api_key_hashes(portal)
        except CredentialError as exc:
            add(f"portals[{i}].api_keys_file", exc)
    for key in ("request_log_path", "request_log_jsonl_path"):
        target = getattr(config.settings, key)
        problem = _unwritable(target) if target not in (None, ":memory:") else None
        if problem:
            warnings.append(ConfigProblem(f"settings.{key}", f"{target} {problem}"))
    return errors, warnings


def _unwritable(target: str) -> str | None:
    """Why the file `target` could not be created or appended to here, without creating it."""
    path = Path(target)
    if path.is_dir():
        return "is a directory"
    if path.exists():
        return None if os.access(path, os.W_OK) else "is not writable"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot be created: {parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot be created: {parent} is not writable"
    return None
