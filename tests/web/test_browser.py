"""The homepage in a real headless browser (Debian's chromium driven by npm playwright-core):
it loads without CSP or script errors, shows the portal and both server states, and the copy
buttons put the URL on the clipboard (async clipboard API and the execCommand fallback)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.web.browser import run_browser_script
from tests.web.conftest import PORTAL_NAME, Served

SCRIPT = Path(__file__).with_name("homepage_browser.mjs")
SCREENSHOT_ENV = "CODEMODE_HOMEPAGE_SCREENSHOT"
"""Set to a path to keep the screenshot the test takes (of the test portal; the README's picture
of the demo comes from `python scripts/homepage_screenshot.py`)."""


@pytest.fixture(scope="module")
def browsed(served: Served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    shot = os.environ.get(SCREENSHOT_ENV) or str(tmp_path_factory.mktemp("shot") / "home.png")
    result: dict[str, object] = run_browser_script(SCRIPT, served.base + "/", shot)
    result["screenshot"] = shot
    return result


def test_page_loads_clean(browsed: dict[str, object]) -> None:
    assert browsed["status"] == 200
    assert browsed["title"] == PORTAL_NAME
    # Any CSP violation or script error is reported on the console.
    assert browsed["problems"] == []
    assert Path(str(browsed["screenshot"])).stat().st_size > 10_000


def test_server_states_are_visible(browsed: dict[str, object]) -> None:
    servers = {s["id"]: s for s in browsed["servers"]}  # type: ignore[attr-defined]
    assert servers["time"]["pill"] == "Ready" and servers["time"]["meta"] == "2 tools"
    assert servers["down"]["pill"] == "Error"
    assert "cannot reach" in servers["down"]["cause"]
    assert all(s["visible"] for s in servers.values())


def test_copy_button_puts_url_on_clipboard(served: Served, browsed: dict[str, object]) -> None:
    expected = f"{served.base}/p/main/mcp?codemode=search_and_execute"
    assert browsed["shownUrl"] == expected
    assert browsed["copiedUrl"] == expected


def test_snippet_follows_picked_endpoint(served: Served, browsed: dict[str, object]) -> None:
    url = f"{served.base}/p/main/mcp?optimize_context=minimize_tools"
    assert browsed["copiedCommand"] == f"claude mcp add --transport http main '{url}'"


def test_copy_fallback_without_clipboard_api(served: Served, browsed: dict[str, object]) -> None:
    assert browsed["fallbackCopied"] == f"{served.base}/p/main/mcp"


@pytest.mark.parametrize("width", ["420", "380"])
def test_no_horizontal_scrolling_on_a_phone(browsed: dict[str, object], width: str) -> None:
    narrow = browsed["narrow"][width]  # type: ignore[index]
    # Neither the page nor an endpoint URL or the open snippet scrolls sideways: they wrap.
    assert narrow == {"pageOverflows": False, "scrolled": []}
