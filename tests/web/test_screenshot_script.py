"""`scripts/homepage_screenshot.py`, which regenerates the README's picture from the demo:
it serves the demo, screenshots it in Chromium and stops, leaving no server behind."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.upstreams.harness import REPO
from tests.web.browser import browser_missing

SCRIPT = REPO / "scripts" / "homepage_screenshot.py"
TIMEOUT_S = 240


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_script_screenshots_the_demo(tmp_path: Path) -> None:
    missing = browser_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"screenshot script cannot run in CI: {missing}")
        pytest.skip(missing)
    out = tmp_path / "home.png"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--width", "420", "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith(f"wrote {out} (")
    width, height = _png_size(out)
    assert width == 420 and height > 800  # the full page, not only the viewport
    assert 10_000 < out.stat().st_size < 1_000_000


def test_the_readme_picture_is_the_demo_and_small() -> None:
    picture = REPO / "docs" / "homepage.png"
    assert _png_size(picture)[0] == 1000
    assert picture.stat().st_size < 300_000
    assert "![The portal's homepage](docs/homepage.png)" in (REPO / "README.md").read_text()


SIGNIN_SCRIPT = REPO / "scripts" / "signin_screenshots.py"


def test_signin_script_signs_in_connects_a_client_and_signs_out(tmp_path: Path) -> None:
    """`codemode serve --demo signin` starts, a client connects through the dev sign-in, the
    browser signs ana in and out: both pictures written."""
    missing = browser_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"screenshot script cannot run in CI: {missing}")
        pytest.skip(missing)
    done = subprocess.run(
        [
            sys.executable,
            str(SIGNIN_SCRIPT),
            "--out-dir",
            str(tmp_path),
            "--width",
            "420",
            "--port",
            "0",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (
        "Signed out ana@example.com — revoked 1 client session (Claude Code), "
        "removed 0 server connections." in done.stdout
    )
    for name in ("signed-in.png", "signed-out.png"):
        assert _png_size(tmp_path / name)[0] == 420


def test_the_readme_signin_pictures_are_small() -> None:
    readme = (REPO / "README.md").read_text()
    for name in ("signed-in.png", "signed-out.png"):
        picture = REPO / "docs" / name
        assert _png_size(picture)[0] == 1000
        assert picture.stat().st_size < 300_000
        assert f"(docs/{name})" in readme
