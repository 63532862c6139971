"""What `codemode` prints, read by a person: fenced TypeScript, positions, cut output, counts,
start-up failures, the version."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from tests.cli.conftest import codemode
from tests.upstreams.harness import free_port


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "portal.toml"
    path.write_text(body + '\n[settings]\nrequest_log_path = ":memory:"\n', encoding="utf-8")
    return path


@pytest.fixture
def small_cap(tmp_path: Path) -> Path:
    """A portal without upstream servers and an output cap of 1,000 characters."""
    return _config(
        tmp_path, '[[portals]]\nid = "solo"\n[settings.sandbox]\noutput_cap_chars = 1000\n'
    )


def test_run_fenced_typescript_with_prose_around_it(small_cap: Path) -> None:
    code = (
        "Here you go:\n```ts\nasync function main(): Promise<string> {\n"
        "  const x: number = 1\n  return `got ${x}`\n}\n```\nThat returns a string."
    )
    done = codemode("run", "--config", str(small_cap), code)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "got 1\n"


def test_run_prints_a_syntax_errors_position_once(small_cap: Path) -> None:
    done = codemode("run", "--config", str(small_cap), "```typescript\nconst x: = 1\n```")
    assert done.returncode == 1
    error = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and error[0].startswith("error: SyntaxError: ")
    assert error[0].count("line 2, column 10") == 1, error


def test_run_output_over_the_cap_is_the_value_cut_with_the_notice(small_cap: Path) -> None:
    done = codemode("run", "--config", str(small_cap), "return 'ab\"c'.repeat(1000)")
    assert done.returncode == 0, done.stderr
    assert "[output cut: showing the first 1,000 of " in done.stderr
    assert "the output cap is 1,000 characters" in done.stderr
    value = done.stdout.removesuffix("\n")
    # The escapes of the JSON text count against the cap; the value is printed unescaped.
    assert 700 < len(value) < 1000 and value == ('ab"c' * 1000)[: len(value)]
    assert "{" not in done.stdout and "\\" not in done.stdout

    done = codemode("run", "--config", str(small_cap), "return [...Array(500).keys()]")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("[0, 1, 2, 3,") and '"result"' not in done.stdout


def test_a_server_down_at_start_is_reported_once(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        f'[[servers]]\nid = "gone"\nurl = "http://127.0.0.1:{free_port()}/mcp"\n'
        'connect_timeout_s = 5\n[[portals]]\nid = "p"\n[[portals.servers]]\nserver_id = "gone"\n',
    )
    # `serve` logs warnings; over stdio with stdin closed it stops right after starting.
    for argv in (["serve", "--stdio"], ["status"], ["status", "-v"]):
        done = codemode(*argv, "--config", str(config))
        assert "  gone: Error: cannot reach" in done.stderr, done.stderr
        assert done.stderr.count("cannot reach") == 1, done.stderr


def test_version() -> None:
    done = codemode("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"codemode {importlib.metadata.version('codemode-engine')}\n"
