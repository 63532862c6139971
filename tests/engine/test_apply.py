"""`Gateway.apply` in-process over stdlib-only stdio upstreams (real child processes): an
added server connects in the background and its tools reach the portal; a removed one's
process ends and its tools leave; concurrent applies run one after the other; a refused
apply changes nothing; twenty add/remove rounds leave no process and no task behind; a call
in flight on a removed server is told so."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from engine import Config, Gateway, Surface
from engine.config import ConfigError, ConfigProblem
from engine.portal import Portal
from engine.status import ServerState

pytestmark = pytest.mark.anyio

TINY = Path(__file__).parents[1] / "cli" / "tiny_upstream.py"


def tiny(directory: Path, sid: str, pidfile: str | None = None) -> dict[str, Any]:
    args = ["-S", str(TINY), str(directory / (pidfile or f"{sid}.pid"))]
    return {"id": sid, "command": sys.executable, "args": args}


def config(directory: Path, *sids: str, portals: tuple[str, ...] = ("main",)) -> Config:
    return Config.from_dict(
        {
            "servers": [tiny(directory, sid) for sid in sids],
            "portals": [
                {"id": pid, "servers": [{"server_id": sid} for sid in sids]} for pid in portals
            ],
            "settings": {"request_log_path": ":memory:"},
        }
    )


def names(gateway: Gateway, portal: str = "main") -> set[str]:
    return {t.name for t in gateway.portal(portal).list_tools(Surface.ALL)}


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def children() -> set[int]:
    """Our live child processes."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def pid_of(directory: Path, sid: str) -> int:
    return int((directory / f"{sid}.pid").read_text())


async def test_an_added_server_connects_and_a_removed_one_ends(tmp_path: Path) -> None:
    async with Gateway(config(tmp_path, "one")) as gateway:
        changed: list[str] = []
        gateway.portal("main").on_tools_changed(lambda: changed.append("main"))
        assert names(gateway) == {"one_echo"}

        report = await gateway.apply(config(tmp_path, "one", "two"), by="test")
        assert report.applied == (
            "servers[two] (added)",
            "portals[main].servers (which servers, their order)",
        )
        assert report.needs_restart == ()
        # In the background: Waiting now, Ready once its first sync ends.
        assert gateway.portal("main").status()["two"].state is ServerState.WAITING
        assert (await gateway.catalog.wait_settled("two")).state is ServerState.READY
        assert names(gateway) == {"one_echo", "two_echo"}
        assert changed == ["main"]
        two = pid_of(tmp_path, "two")
        assert alive(two)

        report = await gateway.apply(config(tmp_path, "one"))
        assert "servers[two] (removed)" in report.applied
        assert not alive(two)  # apply returns once the removed server's process has ended
        assert names(gateway) == {"one_echo"}
        assert changed == ["main", "main"]
        assert gateway.catalog.server_ids == ["one"]
        assert "two" not in gateway.portal("main").status()


async def test_a_portal_is_added_and_removed(tmp_path: Path) -> None:
    async with Gateway(config(tmp_path, "one")) as gateway:
        await gateway.apply(config(tmp_path, "one", portals=("main", "more")))
        assert names(gateway, "more") == {"one_echo"}
        await gateway.apply(config(tmp_path, "one"))
        assert list(gateway.portals) == ["main"]


async def test_concurrent_applies_run_one_after_the_other(tmp_path: Path) -> None:
    async with Gateway(config(tmp_path, "one", "two")) as gateway:
        two = pid_of(tmp_path, "two")
        seen: list[tuple[list[str], bool]] = []

        def hook(new: Config) -> Any:
            # What the running gateway looks like as each apply starts its step.
            seen.append(([s.id for s in gateway.config.servers], alive(two)))
            return lambda: None

        gateway.on_reload(hook)
        async with anyio.create_task_group() as group:
            group.start_soon(gateway.apply, config(tmp_path, "one"))
            group.start_soon(gateway.apply, config(tmp_path, "one", "three"))
        # The second began only after the first had closed `two` (its process ended).
        assert seen == [(["one", "two"], True), (["one"], False)]
        assert gateway.catalog.server_ids == ["one", "three"]


async def test_a_refused_apply_changes_nothing(tmp_path: Path) -> None:
    async with Gateway(config(tmp_path, "one")) as gateway:
        before, portals = gateway.config, dict(gateway.portals)

        def hook(new: Config) -> Any:
            if len(new.servers) > 1:
                raise ConfigError([ConfigProblem("", "refused by a hook")], "test")
            return lambda: None

        gateway.on_reload(hook)
        with pytest.raises(ConfigError, match="refused by a hook"):
            await gateway.apply(config(tmp_path, "one", "two", portals=("main", "more")))
        # A config built in code whose portal lists a server it does not have.
        dangling = before.model_copy(update={"servers": []})
        with pytest.raises(ConfigError, match="no server with id 'one'"):
            await gateway.apply(dangling)

        assert gateway.config is before
        assert gateway.portals == portals
        assert gateway.catalog.server_ids == ["one"]
        assert not (tmp_path / "two.pid").exists()  # never started
        assert alive(pid_of(tmp_path, "one"))
        assert names(gateway) == {"one_echo"}


async def test_twenty_add_remove_rounds_leave_nothing_behind(tmp_path: Path) -> None:
    async with Gateway(config(tmp_path, "one")) as gateway:
        processes, tasks = children(), len(asyncio.all_tasks())
        for _ in range(20):
            await gateway.apply(config(tmp_path, "one", "two"))
            assert (await gateway.catalog.wait_settled("two")).state is ServerState.READY
            await gateway.apply(config(tmp_path, "one"))
        assert children() == processes
        assert len(asyncio.all_tasks()) == tasks


async def test_a_call_in_flight_on_a_removed_server_is_told_why(tmp_path: Path) -> None:
    args = ["-m", "tests.upstreams.demo", "--stdio"]
    demo = {"id": "demo", "command": sys.executable, "args": args}
    with_demo = config(tmp_path, "one").model_dump()
    with_demo["servers"].append(demo)
    with_demo["portals"][0]["servers"].append({"server_id": "demo"})
    async with Gateway(Config.from_dict(with_demo)) as gateway:
        portal = gateway.portal("main")
        results = []

        async def slow_call() -> None:
            results.append(await portal.call_tool(Surface.ALL, "demo_slow", {"seconds": 30}))

        async with anyio.create_task_group() as group:
            group.start_soon(slow_call)
            for _ in range(200):  # bounded: until the upstream has the call
                if await _slow_started(portal):
                    break
                await anyio.sleep(0.05)
            await gateway.apply(config(tmp_path, "one"))
        [result] = results
        assert result.is_error
        text = result.content[0].text  # type: ignore[union-attr]
        assert "upstream server 'demo'" in text and "removed from the config" in text
        assert "retryable" not in text


async def _slow_started(portal: Portal) -> bool:
    stats = await portal.call_tool(Surface.ALL, "demo_stats", {})
    text = stats.content[0].text  # type: ignore[union-attr]
    return not stats.is_error and json.loads(text)["slow_started"] > 0
