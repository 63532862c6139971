"""HAProxy (Debian's `haproxy`) on loopback in front of portal replicas, for tests, with the
configuration the README documents: round robin, health checks on `/readyz`, and 2025-era
sessions kept on the replica that opened them (stick on `Mcp-Session-Id`).

    with Balancer.started(tmp_path, [port_1, port_2]) as lb:
        lb.url   # http://127.0.0.1:PORT
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.upstreams.harness import free_port

START_TIMEOUT_S = 20.0


def haproxy_config(port: int, replicas: Sequence[int]) -> str:
    """The README's configuration, on loopback ports."""
    servers = "\n".join(
        f"    server replica{i} 127.0.0.1:{p} check inter 500ms fall 2 rise 1"
        for i, p in enumerate(replicas, start=1)
    )
    return f"""
global
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout http-request 30s

frontend portal
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    # 2025-11-25 sessions: every request of a session to the replica that opened it.
    stick-table type string len 128 size 1m expire 1h
    stick store-response res.hdr(mcp-session-id)
    stick match req.hdr(mcp-session-id)
{servers}
"""


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
