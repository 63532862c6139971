"""HAProxy (Debian's `haproxy`) on loopback in front of portal replicas, for tests, with the
configuration the README documents, read from it: round robin, health checks on `/readyz`,
and 2025-era sessions kept on the replica that opened them (stick on `Mcp-Session-Id`).

    with Balancer.started(tmp_path, [port_1, port_2]) as lb:
        lb.url   # http://127.0.0.1:PORT
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.upstreams.harness import free_port

START_TIMEOUT_S = 20.0
README = Path(__file__).resolve().parents[1] / "README.md"


def haproxy_config(port: int, replicas: Sequence[int]) -> str:
    """The README's configuration (its ```haproxy block), on loopback ports."""
    readme = README.read_text(encoding="utf-8")
    match = re.search(r"```haproxy\n(.*?)```", readme, re.S)
    assert match is not None, "README has no ```haproxy block"
    text = re.sub(r"(?m)^    bind \S+$", f"    bind 127.0.0.1:{port}", match.group(1))
    servers = re.findall(r"(?m)^    server (\S+) \S+ (.*)$", text)
    assert len(servers) == len(replicas), servers
    text = re.sub(r"(?m)^    server .*\n", "", text)
    lines = [
        f"    server {name} 127.0.0.1:{p} {options}\n"
        for (name, options), p in zip(servers, replicas, strict=True)
    ]
    return text + "".join(lines)


@dataclass
class Balancer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    @contextlib.contextmanager
    def started(cls, directory: Path, replicas: Sequence[int]) -> Iterator[Balancer]:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        port = free_port()
        config = directory / "haproxy.cfg"
        config.write_text(haproxy_config(port, replicas), encoding="utf-8")
        process = subprocess.Popen(
            [binary, "-db", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _accepting(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"haproxy did not start (exit {process.poll()})")
                time.sleep(0.05)
            yield cls(port, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
