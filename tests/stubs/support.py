"""Helpers of the stubs tests: the corpus of real tools/list output, and running tsc."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FIXTURES = HERE / "fixtures"
CORPUS = ("everything", "filesystem", "memory", "git", "time", "fetch")
TSC_TIMEOUT_S = 180


def corpus_tools(server: str) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = json.loads((FIXTURES / f"{server}.json").read_text())
    return tools


def tsc_path() -> Path | None:
    local = ROOT / "node_modules" / ".bin" / "tsc"
    if local.exists():
        return local
    found = shutil.which("tsc")
    return Path(found) if found else None


@dataclass(frozen=True)
class TscError:
    file: str
    line: int
    column: int
    code: str
    message: str


_DIAGNOSTIC = re.compile(
    r"^(?P<file>[^\s(]+)\((?P<line>\d+),(?P<col>\d+)\): error (?P<code>TS\d+): (?P<msg>.*)$"
)


def run_tsc(files: list[Path], cwd: Path) -> tuple[int, list[TscError], str]:
    """Type-check `files` strictly as ES2022 with no DOM; returns rc, parsed errors, raw output."""
    tsc = tsc_path()
    if tsc is None:
        pytest.skip("TypeScript compiler not found: run `npm ci` (package.json pins typescript)")
    command = [
        str(tsc), "--noEmit", "--strict", "--target", "es2022", "--module", "es2022",
        "--lib", "es2022", "--pretty", "false", *[f.name for f in files],
    ]  # fmt: skip
    proc = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=TSC_TIMEOUT_S, check=False
    )
    out = proc.stdout + proc.stderr
    errors = [
        TscError(m["file"], int(m["line"]), int(m["col"]), m["code"], m["msg"])
        for m in (_DIAGNOSTIC.match(line) for line in out.splitlines())
        if m
    ]
    return proc.returncode, errors, out
