"""Run a test upstream as a real subprocess on a free 127.0.0.1 port, and always stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class RunningServer:
    argv: list[str]
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, cwd=REPO, env=self.env, start_new_session=True, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _accepting(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.argv} exited with {self.process.returncode} before listening"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"{self.argv} did not listen on {self.port} within {START_TIMEOUT_S} s"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        # The whole group: npm shims start node as a child.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def kill(self) -> None:
        """Die at once, as a crash would: no graceful close of open streams."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def running(
    argv: Sequence[str], *, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[RunningServer]:
    """Start `argv` (with `{port}` filled in) and yield it once its port accepts connections."""
    chosen = port or free_port()
    full_env = {**os.environ, **(env or {}), "PORT": str(chosen)}
    server = RunningServer([a.replace("{port}", str(chosen)) for a in argv], chosen, full_env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def demo_argv(*extra: str) -> list[str]:
    return [sys.executable, "-m", "tests.upstreams.demo", "--port", "{port}", *extra]
