"""The demo package: its config file, the bundled notes server and the throwaway repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client
from mcp_types import TextContent

from engine.config import Config
from engine.demo import demo_config, demo_data
from engine.demo.gitrepo import make_repository
from engine.demo.notes import NoteBook
from engine.demo.notes import build_server as notes_server
from tests.cli.conftest import REPO


def test_built_in_demo_is_the_bundled_file_run_by_this_interpreter() -> None:
    from_file = Config.load(REPO / "engine" / "demo" / "portal.toml")
    built_in = demo_config()
    assert [s.command for s in from_file.servers] == ["python"] * 3
    assert [s.command for s in built_in.servers] == [sys.executable] * 3
    # The default database file resolves beside the config, or (built in) in the state dir.
    same = {"servers": True, "settings": {"database_url"}}
    assert built_in.model_dump(exclude=same) == from_file.model_dump(exclude=same)
    assert demo_data("/x/python")["servers"][2]["args"] == ["-m", "engine.demo.notes"]
    portal = built_in.portals[0]
    assert (portal.id, portal.hostname, portal.allow_code_mode) == ("demo", None, True)
    assert built_in.settings.request_log_path == ":memory:"


def test_throwaway_repository_has_a_short_history(tmp_path: Path) -> None:
    repo = make_repository(tmp_path / "repo")
    log = subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%s"], capture_output=True, text=True, check=True
    )
    assert log.stdout.splitlines() == [
        "Document the greeting",
        "Add a greeting module",
        "Start the demo project",
    ]


@pytest.mark.anyio
async def test_notes_server_tools_and_prompt() -> None:
    book = NoteBook()
    async with Client(notes_server(book)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {"add_note", "list_notes", "search_notes", "get_note", "delete_note"}

        first = await client.call_tool("add_note", {"title": "Groceries", "body": "milk, eggs"})
        second = await client.call_tool(
            "add_note", {"title": "Trip", "body": "Book train", "tags": [" Travel ", "work"]}
        )
        assert first.structured_content is not None and first.structured_content["id"] == 1
        assert second.structured_content is not None
        assert second.structured_content["tags"] == ["travel", "work"]

        tagged = await client.call_tool("list_notes", {"tag": "TRAVEL"})
        assert [n["id"] for n in (tagged.structured_content or {})["notes"]] == [2]
        found = await client.call_tool("search_notes", {"query": "milk groceries"})
        assert [n["id"] for n in (found.structured_content or {})["notes"]] == [1]

        deleted = await client.call_tool("delete_note", {"id": 1})
        assert (deleted.structured_content or {})["title"] == "Groceries"
        missing = await client.call_tool("get_note", {"id": 1})
        assert missing.is_error
        text = [b.text for b in missing.content if isinstance(b, TextContent)]
        assert "no note with id 1 (ids: 2)" in text[0]

        prompt = await client.get_prompt("summarize_notes", {"tag": "work"})
        message = prompt.messages[0].content
        assert isinstance(message, TextContent) and "list_notes(tag='work')" in message.text
    assert list(book.notes) == [2]


def test_signin_demo_is_the_demo_behind_the_dev_sign_in() -> None:
    """`codemode serve --demo signin`: the same servers and curation, plus sign-in and policies."""
    from_file = Config.load(REPO / "engine" / "demo" / "signin.toml")
    signin, plain = demo_config("signin"), demo_config()
    assert [s.command for s in from_file.servers] == ["python"] * 3
    assert signin.model_dump(exclude={"servers"}) == from_file.model_dump(exclude={"servers"})
    assert signin.identity is not None and signin.identity.provider == "dev"
    assert {s.id: s.policies for s in signin.servers} == {
        "time": ["example"],
        "git": ["engineering"],
        "notes": ["example"],
    }
    strip = {"__all__": {"policies"}}
    assert signin.model_dump(include={"servers"}, exclude={"servers": strip}) == plain.model_dump(
        include={"servers"}, exclude={"servers": strip}
    )
    assert signin.portals[0].servers == plain.portals[0].servers
    assert signin.settings.database_url == "sqlite+aiosqlite://"  # nothing written to disk


def test_demo_switch_chooses_the_built_in_config() -> None:
    from engine.cli.main import build_parser, load_config

    args = build_parser().parse_args(["serve", "--demo", "signin"])
    assert load_config(args.config, "serve", demo=args.demo).identity is not None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--demo", "signin", "--config", "x.toml"])
