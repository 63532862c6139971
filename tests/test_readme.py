"""Every ```python block of README.md runs as written: each as its own script, in a fresh
interpreter (this one), in an empty temporary directory, and must exit 0.

The directory holds `portal.toml`, the README's (first) ```toml example, since the embedding
snippet loads that file. Its `time` server is `mcp-server-time`, installed beside codemode:
the blocks run with a PATH that lacks this environment's bin directory, as a newcomer runs
`.venv/bin/python embed.py` without activating anything, and must still find it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
TIMEOUT_S = 120
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def _blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README.read_text("utf-8")) if lang == language]


def _first_line(code: str) -> str:
    return next(line for line in code.splitlines() if line.strip())


PYTHON_BLOCKS = _blocks("python")


def test_the_readme_has_python_blocks() -> None:
    # The embedding snippet and the sandbox snippet, at least.
    assert len(PYTHON_BLOCKS) >= 2
    assert "[[portals]]" in _blocks("toml")[0]


@pytest.mark.parametrize("code", PYTHON_BLOCKS, ids=[_first_line(c)[:40] for c in PYTHON_BLOCKS])
def test_python_block_runs(code: str, tmp_path: Path) -> None:
    (tmp_path / "portal.toml").write_text(_blocks("toml")[0], encoding="utf-8")
    (tmp_path / "block.py").write_text(code, encoding="utf-8")
    venv_bin = str(Path(sys.executable).parent)
    path = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and d != venv_bin]
    env = {
        **os.environ,
        "PATH": os.pathsep.join(path),
        # This checkout's engine and sandbox, not whichever copy happens to be installed.
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, "block.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-3000:]}"
