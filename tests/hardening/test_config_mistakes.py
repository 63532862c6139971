"""`codemode check-config FILE` on config files with every kind of mistake: exit 2, nothing on
stdout, one stderr line per problem naming its key path, no traceback, and never an inline
secret echoed back.

Every case runs through the CLI's entry point in this process (`engine.cli.main`, output
captured); one case of each kind also runs as a real `python -m engine.cli` subprocess, which
must say exactly the same. (A subprocess per case costs a second of imports each.)"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.cli import main
from tests.upstreams.harness import REPO

RUN_TIMEOUT_S = 120
PARALLEL = 2
# A few cases (many problems at once among them) also run as a subprocess.
IN_A_SUBPROCESS = (
    "toml-unclosed-table",
    "not-utf8",
    "secret-in-env",
    "many-problems",
)

BASE = """
[[servers]]
id = "time"
command = "mcp-server-time"

[[portals]]
id = "p"
name = "P"

[[portals.servers]]
server_id = "time"
"""
SERVER_LINE = 'command = "mcp-server-time"'
PORTAL_LINE = 'name = "P"'
SECRETS = {
    "env": "ghp_abcdefghijklmnop1234567890",
    "args": "sk-abcdefghijklmnop1234567890",
    "password": "hunter2hunter2hunter2",
    "query": "qtokenabcdefghijklmnop123456",
    "bearer": "bearerabcdefghijklmnop1234567890",
    "api_key": "my-plain-api-key-1234567890",
}


def server(extra: str) -> str:
    """BASE with `extra` lines in place of the time server's transport."""
    return BASE.replace(SERVER_LINE, extra)


def portal(extra: str) -> str:
    return BASE.replace(PORTAL_LINE, PORTAL_LINE + "\n" + extra)


# name -> (file text, [(key path, part of the message)]): exactly these problems, in any order.
# A key path of "" is the file itself (TOML or encoding problems).
CASES: dict[str, tuple[str | bytes, list[tuple[str, str]]]] = {
    # -- not TOML -----------------------------------------------------------------------------
    "toml-unclosed-table": ("[[servers]\nid = 'x'\n", [("", "invalid TOML")]),
    "toml-unclosed-string": ('[[servers]]\nid = "time\n', [("", "invalid TOML")]),
    "toml-duplicate-key": ('[[servers]]\nid = "a"\nid = "b"\n', [("", "invalid TOML")]),
    "toml-bare-word": ("[[servers]]\nid = time\n", [("", "invalid TOML")]),
    "toml-binary": (b"\x00\x01\x02\x03", [("", "invalid TOML")]),
    "toml-json": ('{"servers": []}', [("", "invalid TOML")]),
    "toml-yaml": ("servers:\n  - id: time\n", [("", "invalid TOML")]),
    "not-utf8": (b'[[servers]]\nid = "\xff\xfe"\n', [("", "UTF-8")]),
    # -- unknown keys, at each level --------------------------------------------------------
    "unknown-top": ("bogus = 1\n" + BASE, [("bogus", "unknown key")]),
    "unknown-server": (server(SERVER_LINE + '\ncomand = "x"'), [("servers[0].comand", "unknown")]),
    "unknown-portal": (portal("allow_codemode = true"), [("portals[0].allow_codemode", "unknown")]),
    "unknown-portal-server": (
        BASE + "default_disable = true\n",
        [("portals[0].servers[0].default_disable", "unknown key")],
    ),
    "unknown-override": (
        BASE + '[[portals.servers.updated_tools]]\nname = "get_current_time"\nalias = "x"\n',
        [("portals[0].servers[0].updated_tools[0].alias", "unknown key")],
    ),
    "unknown-server-override": (
        server(SERVER_LINE + '\n[[servers.updated_tools]]\nname = "x"\nrename = "y"'),
        [("servers[0].updated_tools[0].rename", "unknown key")],
    ),
    "unknown-settings": (BASE + '[settings]\nlog = "x"\n', [("settings.log", "unknown key")]),
    "unknown-sandbox": (
        BASE + "[settings.sandbox]\ntimeout = 3\n",
        [("settings.sandbox.timeout", "unknown key")],
    ),
    # -- wrong types --------------------------------------------------------------------------
    "id-number": (
        BASE.replace('id = "time"', "id = 5", 1),
        [("servers[0].id", "valid string"), ("portals[0].servers[0].server_id", "no server")],
    ),
    "args-string": (server(SERVER_LINE + '\nargs = "--x"'), [("servers[0].args", "list")]),
    "env-array": (server(SERVER_LINE + '\nenv = ["A=1"]'), [("servers[0].env", "table")]),
    "env-value-number": (server(SERVER_LINE + "\nenv = { A = 1 }"), [("servers[0].env.A", "")]),
    "bool-as-string": (portal('allow_code_mode = "yes"'), [("portals[0].allow_code_mode", "bool")]),
    "number-as-string": (
        server(SERVER_LINE + '\ncall_timeout_s = "60"'),
        [("servers[0].call_timeout_s", "number")],
    ),
    "negative-number": (
        server(SERVER_LINE + "\ncall_timeout_s = -1"),
        [("servers[0].call_timeout_s", "greater than 0")],
    ),
    "sandbox-zero": (
        BASE + "[settings.sandbox]\nmax_code_bytes = 0\n",
        [("settings.sandbox.max_code_bytes", "greater than 0")],
    ),
    "sandbox-string": (
        BASE + '[settings.sandbox]\ncpu_s = "1"\n',
        [("settings.sandbox.cpu_s", "number")],
    ),
    "sandbox-float-for-int": (
        BASE + "[settings.sandbox]\nmax_calls = 2.5\n",
        [("settings.sandbox.max_calls", "integer")],
    ),
    "servers-string": ('servers = "time"\n', [("servers", "must be a list")]),
    "portals-table": (BASE.replace("[[portals]]", "[portals]"), [("portals", "must be a list")]),
    "settings-array": (BASE + "[[settings]]\n", [("settings", "")]),
    "auth-type-unknown": (
        server('url = "https://example.com/mcp"\nauth_type = "magic"'),
        [("servers[0].auth_type", "'bearer'")],
    ),
    "enabled-string": (
        BASE + '[[portals.servers.updated_tools]]\nname = "x"\nenabled = "no"\n',
        [("portals[0].servers[0].updated_tools[0].enabled", "bool")],
    ),
    # -- missing required keys ----------------------------------------------------------------
    "server-without-id": (
        BASE.replace('id = "time"\n', "", 1),
        [("servers[0].id", "required key is missing"), ("portals[0].servers[0].server_id", "")],
    ),
    "portal-without-id": (BASE.replace('id = "p"\n', ""), [("portals[0].id", "required key")]),
    "portal-server-without-id": (
        BASE.replace('server_id = "time"\n', ""),
        [("portals[0].servers[0].server_id", "required key is missing")],
    ),
    "override-without-name": (
        BASE + "[[portals.servers.updated_tools]]\nenabled = false\n",
        [("portals[0].servers[0].updated_tools[0].name", "required key is missing")],
    ),
    "no-transport": (server(""), [("servers[0]", "neither is set")]),
    "both-transports": (
        server(SERVER_LINE + '\nurl = "http://127.0.0.1:1/mcp"'),
        [("servers[0]", "both are set")],
    ),
    "bearer-without-reference": (
        server('url = "https://example.com/mcp"\nauth_type = "bearer"'),
        [("servers[0].auth_type", "exactly one of bearer_token_env")],
    ),
    # -- duplicates and dangling references ---------------------------------------------------
    "duplicate-server-ids": (
        BASE.replace("[[portals]]", '[[servers]]\nid = "time"\ncommand = "x"\n\n[[portals]]'),
        [("servers[1].id", "duplicate server id 'time' (first at servers[0])")],
    ),
    "duplicate-portal-ids": (
        BASE + '\n[[portals]]\nid = "p"\nname = "Q"\n',
        [("portals[1].id", "duplicate portal id 'p'")],
    ),
    "duplicate-server-in-portal": (
        BASE + '\n[[portals.servers]]\nserver_id = "time"\n',
        [("portals[0].servers[1].server_id", "already in this portal")],
    ),
    "duplicate-hostname": (
        portal('hostname = "a.test"')
        + '\n[[portals]]\nid = "q"\nname = "Q"\nhostname = "a.test"\n',
        [("portals[1].hostname", "duplicate hostname 'a.test'")],
    ),
    "duplicate-override": (
        BASE + '[[portals.servers.updated_tools]]\nname = "x"\n' * 2,
        [("portals[0].servers[0].updated_tools[1].name", "duplicate entry for 'x'")],
    ),
    "dangling-server": (
        BASE.replace('server_id = "time"', 'server_id = "ghost"'),
        [("portals[0].servers[0].server_id", "no server with id 'ghost' in [[servers]]")],
    ),
    "dangling-without-servers": (
        '[[portals]]\nid = "p"\nname = "P"\n[[portals.servers]]\nserver_id = "time"\n',
        [("portals[0].servers[0].server_id", "no server with id 'time'")],
    ),
    # -- secrets written inline ---------------------------------------------------------------
    "secret-in-env": (
        server(SERVER_LINE + f'\nenv = {{ GITHUB_TOKEN = "{SECRETS["env"]}" }}'),
        [("servers[0].env.GITHUB_TOKEN", "looks like a secret")],
    ),
    "secret-in-args": (
        server(SERVER_LINE + f'\nargs = ["--api-key={SECRETS["args"]}"]'),
        [("servers[0].args[0]", "looks like a secret")],
    ),
    "secret-in-url-password": (
        server(f'url = "https://user:{SECRETS["password"]}@example.com/mcp"'),
        [("servers[0].url", "looks like a secret")],
    ),
    "secret-in-url-query": (
        server(f'url = "https://example.com/mcp?token={SECRETS["query"]}"'),
        [("servers[0].url", "looks like a secret")],
    ),
    "token-as-bearer-env": (
        server(
            'url = "https://example.com/mcp"\nauth_type = "bearer"\n'
            f'bearer_token_env = "{SECRETS["bearer"]}-x"'
        ),
        [("servers[0].bearer_token_env", "NAME of an environment variable")],
    ),
    "bearer-token-inline": (
        server(
            f'url = "https://example.com/mcp"\nauth_type = "bearer"\n'
            f'bearer_token = "{SECRETS["bearer"]}"'
        ),
        [("servers[0].bearer_token", "looks like a secret")],
    ),
    "api-key-not-hashed": (
        portal(f'api_keys = ["{SECRETS["api_key"]}"]'),
        [("portals[0].api_keys[0]", "SHA-256 hex digest")],
    ),
    # -- bad URLs and names -------------------------------------------------------------------
    "url-ftp": (server('url = "ftp://example.com/mcp"'), [("servers[0].url", "http://")]),
    "url-relative": (server('url = "/mcp"'), [("servers[0].url", "http://")]),
    "url-no-host": (server('url = "http://"'), [("servers[0].url", "http://")]),
    "url-empty": (server('url = ""'), [("servers[0].url", "http://")]),
    "url-space": (server('url = "http://exa mple.com/mcp"'), [("servers[0].url", "no spaces")]),
    "url-port-range": (
        server('url = "http://example.com:99999/mcp"'),
        [("servers[0].url", "port")],
    ),
    "url-port-word": (server('url = "http://example.com:http/mcp"'), [("servers[0].url", "port")]),
    "url-no-scheme": (server('url = "example.com/mcp"'), [("servers[0].url", "http://")]),
    "id-characters": (
        BASE.replace('"time"', '"Time Server!"'),
        [("servers[0].id", "pattern"), ("portals[0].servers[0].server_id", "pattern")],
    ),
    "id-too-long": (
        BASE.replace('"time"', '"' + "t" * 40 + '"'),
        [("servers[0].id", "at most 32"), ("portals[0].servers[0].server_id", "at most 32")],
    ),
    "alias-with-spaces": (
        BASE + '[[portals.servers.updated_tools]]\nname = "x"\nportal_alias = "has spaces"\n',
        [("portals[0].servers[0].updated_tools[0].portal_alias", "pattern")],
    ),
    "hostname-with-scheme": (
        portal('hostname = "https://mcp.example.com/"'),
        [("portals[0].hostname", "host name")],
    ),
    # -- several at once: every one is reported -----------------------------------------------
    "many-problems": (
        "bogus = 1\n"
        + BASE.replace('id = "time"', "id = 5", 1).replace(PORTAL_LINE, PORTAL_LINE + "\nx = 1")
        + "[settings.sandbox]\ncpu_s = -1\n",
        [
            ("bogus", "unknown key"),
            ("servers[0].id", "valid string"),
            ("portals[0].x", "unknown key"),
            ("settings.sandbox.cpu_s", "greater than 0"),
            ("portals[0].servers[0].server_id", "no server"),
        ],
    ),
}


@dataclass(frozen=True)
class Checked:
    path: Path
    returncode: int
    stdout: str
    stderr: str


def _check(path: Path) -> Checked:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(["check-config", str(path)])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 2
    return Checked(path, code, out.getvalue(), err.getvalue())


def _check_in_a_subprocess(path: Path) -> Checked:
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "check-config", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        check=False,
    )
    return Checked(path, done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("configs")
    written: dict[str, Path] = {}
    for name, (text, _) in CASES.items():
        path = folder / f"{name}.toml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        written[name] = path
    return written


@pytest.fixture(scope="module")
def checked(paths: dict[str, Path]) -> dict[str, Checked]:
    return {name: _check(path) for name, path in paths.items()}


def test_a_subprocess_says_the_same(paths: dict[str, Path], checked: dict[str, Checked]) -> None:
    with ThreadPoolExecutor(PARALLEL) as pool:
        done = pool.map(_check_in_a_subprocess, [paths[n] for n in IN_A_SUBPROCESS])
        for name, result in zip(IN_A_SUBPROCESS, done, strict=True):
            assert result == checked[name], name


def test_the_base_file_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "base.toml"
    path.write_text(BASE, encoding="utf-8")
    done = _check_in_a_subprocess(path)
    assert done.returncode == 0, done.stderr
    assert "OK: 1 server (time)" in done.stdout


@pytest.mark.parametrize("name", CASES)
def test_each_mistake_is_one_line_naming_its_key(checked: dict[str, Checked], name: str) -> None:
    done = checked[name]
    _, expected = CASES[name]
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    prefix = f"{done.path}: "
    assert all(line.startswith(prefix) for line in lines), lines
    problems = [line.removeprefix(prefix) for line in lines]
    assert len(problems) == len(expected), problems
    for key, message in expected:
        if key:
            found = [p for p in problems if p.startswith(f"{key}: ")]
            assert found and message in found[0], (key, message, problems)
        else:
            assert any(message in p for p in problems), (message, problems)


def test_inline_secrets_are_never_echoed(checked: dict[str, Checked]) -> None:
    for name in [n for n in CASES if "secret" in n or "token" in n or "api-key" in n]:
        output = checked[name].stdout + checked[name].stderr
        for secret in SECRETS.values():
            assert secret not in output, (name, output)


def test_toml_errors_say_where(checked: dict[str, Checked]) -> None:
    for name in [n for n in CASES if n.startswith("toml-")]:
        assert "line " in checked[name].stderr and "column " in checked[name].stderr, name
