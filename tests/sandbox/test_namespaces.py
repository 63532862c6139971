"""`codemode.<space>.<name>`: a configured name with a dot is reached through a read-only
namespace object (`codemode.resources.read`), and its host call carries the full name."""

from __future__ import annotations

import pytest

from sandbox import Sandbox
from tests.sandbox.conftest import Host, run

pytestmark = pytest.mark.anyio

NAMES = {"echo", "resources.read", "resources.list"}


async def test_a_namespaced_method_calls_the_host_under_its_full_name(box: Sandbox) -> None:
    host = Host()
    result = await run(
        box,
        'return [await codemode.resources.read("test://x"), "resources" in codemode,'
        ' "read" in codemode.resources, "nope" in codemode.resources]',
        host,
        names=NAMES,
    )
    assert result.error is None, result.error
    assert result.value == [{"echo": "test://x"}, True, True, False]
    assert host.calls == [("resources.read", "test://x")]


async def test_an_unknown_namespaced_method_rejects_with_close_matches(box: Sandbox) -> None:
    result = await run(
        box,
        "try { await codemode.resources.reed('x') } catch (e) { return e.name + ': ' + e.message }",
        names=NAMES,
    )
    assert result.error is None, result.error
    assert isinstance(result.value, str) and result.value.startswith("TypeError: ")
    assert "codemode.resources.reed is not a tool" in result.value
    assert "codemode.resources.read" in result.value


async def test_the_namespace_cannot_be_changed(box: Sandbox) -> None:
    result = await run(
        box,
        """
"use strict";
const out = [];
try { codemode.resources.read = () => 1; } catch (e) { out.push(e.name); }
try { codemode.resources = {}; } catch (e) { out.push(e.name); }
try { Object.setPrototypeOf(codemode.resources, {}); } catch (e) { out.push(e.name); }
return out;""",
        names=NAMES,
    )
    assert result.error is None, result.error
    assert result.value == ["TypeError", "TypeError", "TypeError"]


async def test_without_dotted_names_there_is_no_namespace(box: Sandbox) -> None:
    result = await run(box, 'return "resources" in codemode', names={"echo"})
    assert result.value is False
