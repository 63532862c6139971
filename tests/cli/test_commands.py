"""`codemode tools`, `run` and `status` against the built-in demo (real upstream servers) and
small configs written per test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import codemode
from tests.upstreams.harness import free_port

SURFACES = ("all", "minimize_tools", "search_and_execute", "codemode")


@pytest.fixture(scope="module")
def demo_tools() -> dict[str, Any]:
    done = codemode("tools", "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


@pytest.fixture
def empty_portal(tmp_path: Path) -> Path:
    """A portal without upstream servers: the sandbox alone, quick to start."""
    path = tmp_path / "empty.toml"
    path.write_text(
        '[[portals]]\nid = "solo"\n[settings]\nrequest_log_path = ":memory:"\n', encoding="utf-8"
    )
    return path


def test_tools_json_shows_four_surfaces_with_token_counts(demo_tools: dict[str, Any]) -> None:
    assert demo_tools["portal"] == "demo"
    surfaces = demo_tools["surfaces"]
    assert tuple(surfaces) == SURFACES
    for report in surfaces.values():
        assert report["tool_count"] == len(report["tools"]) > 0
        assert report["tokens"] > 0
    every = surfaces["all"]
    assert surfaces["codemode"]["tokens"] < every["tokens"]
    assert surfaces["search_and_execute"]["tokens"] < every["tokens"]
    assert [t["name"] for t in surfaces["codemode"]["tools"]] == ["code"]
    assert [t["name"] for t in surfaces["search_and_execute"]["tools"]] == ["query", "execute"]


def test_tools_json_shows_the_demo_curation(demo_tools: dict[str, Any]) -> None:
    tools = {t["name"]: t for t in demo_tools["surfaces"]["all"]["tools"]}
    assert "time_get_current_time" in tools
    assert {"notes_add_note", "notes_search_notes", "notes_delete_note"} <= tools.keys()
    # Server-level aliases drop mcp-server-git's own `git_` prefix: `git_status`, not
    # `git_git_status`.
    assert not [name for name in tools if name.startswith("git_git_")]
    assert {"git_status", "git_diff", "git_show", "git_add", "git_commit"} <= tools.keys()
    # Portal-level alias and description of git_log win over the server-level alias.
    assert "git_history" in tools and "git_log" not in tools
    assert tools["git_history"]["description"].startswith("Commit history of the demo repository")
    # git_reset switched off.
    assert "git_reset" not in tools


def test_tools_table_and_single_surface_listing(empty_portal: Path) -> None:
    table = codemode("tools", "--config", str(empty_portal))
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[1].split() == ["surface", "tools", "tokens"]
    assert [line.split()[0] for line in table.stdout.splitlines()[2:]] == list(SURFACES)
    assert "connecting 0 upstream servers ..." in table.stderr

    listing = codemode("tools", "--config", str(empty_portal), "--surface", "codemode")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.startswith("code  Run JavaScript in an isolated sandbox")
    assert listing.stdout.splitlines()[-1].startswith("1 tool, ")


def test_run_calls_two_upstreams_with_promise_all(tmp_path: Path) -> None:
    code = """
const [now, note] = await Promise.all([
  codemode.time_get_current_time({ timezone: "Asia/Tokyo" }),
  codemode.notes_add_note({ title: "Plan", body: "ship the demo", tags: ["Work"] }),
]);
const found = await codemode.notes_search_notes({ query: "demo" });
console.log("added note", note.id);
return { tz: now.timezone, ids: found.notes.map((n) => n.id), tags: note.tags };
"""
    # The demo's git server makes its repository under TMPDIR and must remove it at exit.
    done = codemode("run", code, env={"TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"tz": "Asia/Tokyo", "ids": [1], "tags": ["work"]}
    assert "[log] added note 1" in done.stderr
    assert "connecting 3 upstream servers ..." in done.stderr
    for server in ("time: Ready (2 tools", "git: Ready (12 tools", "notes: Ready (5 tools"):
        assert f"  {server}" in done.stderr
    assert list(tmp_path.glob("codemode-demo-*")) == []


def test_run_reports_a_failing_script_and_exits_1(empty_portal: Path) -> None:
    done = codemode("run", "--config", str(empty_portal), 'console.warn("before");\nnull.x;')
    assert done.returncode == 1
    assert "[warn] before" in done.stderr
    assert "error: TypeError: " in done.stderr
    assert "(line 2," in done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr


def test_run_reads_code_from_stdin_on_execute(empty_portal: Path) -> None:
    done = codemode(
        "run",
        "--config",
        str(empty_portal),
        "--surface",
        "search_and_execute",
        "-",
        stdin="return [1, 2].map((x) => x * 21)",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [21, 42]


def test_unknown_portal_is_bad_usage(empty_portal: Path) -> None:
    done = codemode("run", "--config", str(empty_portal), "--portal", "nope", "1")
    assert done.returncode == 2
    assert done.stderr.strip() == "codemode: no portal 'nope' in the config (portals: solo)"


def test_status_of_the_demo() -> None:
    done = codemode("status")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split()[1:4] for line in done.stdout.splitlines()[1:]}
    assert rows == {
        "time": ["Ready", "2", "0"],
        "git": ["Ready", "12", "0"],
        "notes": ["Ready", "5", "1"],
    }


def test_status_exits_3_when_a_server_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "down.toml"
    path.write_text(
        f"""
[[servers]]
id = "gone"
url = "http://127.0.0.1:{free_port()}/mcp"
connect_timeout_s = 5

[[servers]]
id = "missing"
command = "{tmp_path / "no-such-program"}"
connect_timeout_s = 5

[[portals]]
id = "p"
[[portals.servers]]
server_id = "gone"
[[portals.servers]]
server_id = "missing"

[settings]
request_log_path = ":memory:"
""",
        encoding="utf-8",
    )
    done = codemode("status", "--config", str(path), "--json")
    assert done.returncode == 3, done.stderr
    servers = json.loads(done.stdout)["servers"]
    assert {sid: s["state"] for sid, s in servers.items()} == {"gone": "Error", "missing": "Error"}
    assert servers["gone"]["error_details"]["cause"]
    assert "  gone: Error: " in done.stderr
    assert "  missing: Error: " in done.stderr
    assert "Traceback" not in done.stderr


def test_verbose_flag_is_accepted_before_and_after_the_command(empty_portal: Path) -> None:
    for argv in (["-v", "status"], ["status", "-v"]):
        done = codemode(*argv, "--config", str(empty_portal))
        assert done.returncode == 0, done.stderr
        assert "DEBUG" in done.stderr
