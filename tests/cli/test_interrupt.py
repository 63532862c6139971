"""Ctrl-C at any moment of `codemode serve`'s start-up or shutdown exits 130, promptly, with
`codemode: interrupted` as the last line and no traceback or asyncio warning, and leaves no
upstream process behind.

The moments are seeded and spread over the phases, each timed from the line that opens it:
the first second or so after launch (imports, parsing), connecting the upstream (it answers
`initialize` after 0.3 s), uvicorn starting, serving, and closing (a second Ctrl-C while the
first one's shutdown runs). The upstream is a standard-library stdio server, so the runs are
cheap; four run at a time."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

from tests.cli.conftest import REPO, alive
from tests.cli.tiny_upstream import portal_config
from tests.upstreams.harness import free_port

SEED = 20260510
RUNS = 16
PARALLEL = 4
EXIT_BOUND_S = 10.0
"""From Ctrl-C to exit; the runs share two busy cores with each other, so not less."""
MARKER_TIMEOUT_S = 90.0
CONNECT_DELAY_S = 0.3

# Phase: (line that opens it, on stderr?, shortest and longest delay after it). Launch moments
# start at 0.8 s: before `engine.cli`'s first lines run, Python itself is starting (its site
# imports), where a Ctrl-C is the interpreter's to handle.
PHASES: dict[str, tuple[str | None, bool, float, float]] = {
    "launch": (None, False, 0.8, 2.5),
    "connecting": ("connecting 1 upstream server", True, 0.0, CONNECT_DELAY_S + 0.1),
    "ready": ("  tiny: Ready", True, 0.0, 0.15),
    "serving": ("codemode is serving", False, 0.0, 0.1),
    "closing": ("codemode is serving", False, 0.0, 0.3),
}


@dataclass
class Run:
    phase: str
    delay: float
    tmp: Path
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def read(self, stream: IO[str], into: list[str]) -> None:
        for line in stream:
            with self.changed:
                into.append(line)
                self.changed.notify_all()

    def wait_for(self, prefix: str, stderr: bool, process: subprocess.Popen[str]) -> None:
        lines = self.stderr if stderr else self.stdout
        deadline = time.monotonic() + MARKER_TIMEOUT_S
        with self.changed:
            while not any(line.startswith(prefix) for line in lines):
                left = deadline - time.monotonic()
                if left <= 0 or process.poll() is not None:
                    raise AssertionError(f"{self}: no line {prefix!r}: {lines}")
                self.changed.wait(min(left, 0.5))


def _interrupt(run: Run) -> list[str]:
    """Start `serve`, Ctrl-C it at the run's moment; the problems seen, if any."""
    config = portal_config(run.tmp, sys.executable, CONNECT_DELAY_S)
    argv = ["serve", "--config", str(config), "--port", str(free_port())]
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", *argv],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(run.tmp)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None
    readers = [
        threading.Thread(target=run.read, args=(process.stdout, run.stdout), daemon=True),
        threading.Thread(target=run.read, args=(process.stderr, run.stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        prefix, on_stderr, _, _ = PHASES[run.phase]
        if prefix is not None:
            run.wait_for(prefix, on_stderr, process)
        if run.phase == "closing":
            process.send_signal(signal.SIGINT)  # the first Ctrl-C starts the shutdown ...
        time.sleep(run.delay)
        process.send_signal(signal.SIGINT)  # ... and this one comes while it runs
        sent = time.monotonic()
        try:
            code = process.wait(timeout=EXIT_BOUND_S)
        except subprocess.TimeoutExpired:
            return [f"still running {EXIT_BOUND_S:g} s after Ctrl-C"]
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for reader in readers:
            reader.join(timeout=5)
    stderr = "".join(run.stderr)
    problems = []
    if code != 130:
        problems.append(f"exit {code}")
    if not stderr.rstrip().endswith("codemode: interrupted"):
        problems.append("stderr does not end with 'codemode: interrupted'")
    for bad in ("Traceback", "is closed", "Exception ignored", "Task was destroyed", "Error"):
        if bad in stderr:
            problems.append(f"{bad!r} in stderr")
    pidfile = run.tmp / "upstream.pid"
    if pidfile.exists() and pidfile.read_text():
        pid = int(pidfile.read_text())
        deadline = time.monotonic() + 2
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            problems.append(f"the upstream process {pid} outlived the portal")
    return [f"{p} ({took:.1f} s)" for p in problems]


@pytest.mark.timeout(300)
def test_ctrl_c_at_any_moment_of_start_up_or_shutdown_exits_130(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    names = list(PHASES)
    runs = []
    for i in range(RUNS):
        phase = names[i % len(names)]
        tmp = tmp_path / f"run{i}"
        tmp.mkdir()
        _, _, shortest, longest = PHASES[phase]
        runs.append(Run(phase, rng.uniform(shortest, longest), tmp))
    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(_interrupt, runs))
    failures = [
        f"{run.phase} +{run.delay:.3f} s: {'; '.join(problems)}\n{''.join(run.stderr)}"
        for run, problems in zip(runs, results, strict=True)
        if problems
    ]
    assert not failures, "\n".join(failures)
