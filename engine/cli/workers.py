"""`codemode serve --workers N`: N serving processes on one port, for more than one core.

The parent process serves nothing: it reserves the port (a busy one is one clear error), then
starts N copies of the same command as workers (`--worker-of <parent pid>`, plus the worker's
number), each with its own gateway, upstream connections and stdio children. Each worker
listens on the port with `SO_REUSEPORT`, so the kernel spreads new connections over them by
address hash. What they must agree on lives in the store (`settings.database_url`: SQLite in
WAL mode, or PostgreSQL): tokens, revocation (seen by every worker within 1 s), people,
admin tokens. A 2025-era session (`Mcp-Session-Id`) lives in the worker that opened it; its
requests come on the client's kept-alive connection, hence to that worker, but a client that
opens a new connection may reach another worker and get 404 (it then re-initializes, as the
spec says). 2026-era requests carry no session and any worker answers them.

Signals: the workers run in their own sessions and the parent forwards SIGINT and SIGTERM to
each, so a terminal's Ctrl-C reaches a worker once, not twice (twice would cut its drain). A
worker whose parent is gone stops itself. If a worker exits while the others serve, the
parent stops them all and exits with its code: a supervisor (systemd, Kubernetes) restarts the
whole, which keeps "N workers" true.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

import anyio
from anyio.abc import Process

from engine.server.serve import ListenError
from engine.server.signals import Stop

PARENT_POLL_S = 1.0


@dataclass(frozen=True)
class Worker:
    """This process as a worker of `serve --workers`: its parent's pid and its number."""

    parent: int
    number: int

    @classmethod
    def parse(cls, text: str | None) -> Worker | None:
        """From the hidden `--worker-of PARENT:NUMBER` option; None when not a worker."""
        if text is None:
            return None
        parent, _, number = text.partition(":")
        return cls(int(parent), int(number))


@contextlib.contextmanager
def reserved_port(host: str, port: int) -> Iterator[None]:
    """Hold `host:port` bound (not listening: it gets no connections) while the workers run,
    after checking nobody else listens there."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    with sock:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address[:2] if family == socket.AF_INET else address)
        except OSError as exc:
            raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        yield


def worker_argv(argv: Sequence[str], number: int) -> list[str]:
    """The command line of worker `number`: the parent's, marked as its worker."""
    return [
        sys.executable,
        "-m",
        "engine.cli",
        *argv,
        "--worker-of",
        f"{os.getpid()}:{number}",
    ]


async def run_workers(argv: Sequence[str], count: int, stop: Stop) -> int:
    """Start `count` workers of `codemode serve <argv>` and wait for them; their exit code
    (the first non-zero one, else 0)."""
    workers: list[Process] = []
    try:
        for n in range(1, count + 1):
            workers.append(
                await anyio.open_process(
                    worker_argv(argv, n),
                    stdin=None,
                    stdout=None,
                    stderr=None,
                    start_new_session=True,
                )
            )
        pids = ", ".join(str(w.pid) for w in workers)
        print(f"codemode: {count} workers ({pids})", file=sys.stderr, flush=True)
        stopping = False

        def forward(signum: int) -> None:
            nonlocal stopping
            stopping = True
            for worker in workers:
                if worker.returncode is None:
                    worker.send_signal(signal.Signals(signum))

        async def watch(worker: Process) -> None:
            code = await worker.wait()
            if not stopping:
                print(
                    f"codemode: worker {worker.pid} exited ({code}); stopping the others",
                    file=sys.stderr,
                    flush=True,
                )
                forward(signal.SIGTERM)

        stop.on_signal = forward
        if stop.signal is not None:
            forward(stop.signal)
        async with anyio.create_task_group() as tasks:
            for worker in workers:
                tasks.start_soon(watch, worker)
    finally:
        with anyio.CancelScope(shield=True):
            for worker in workers:  # cancelled or failed: leave no worker behind
                if worker.returncode is None:
                    worker.kill()
                    await worker.wait()
    codes = [w.returncode for w in workers]
    return next((c for c in codes if c not in (0, None)), 0)


async def _watch_parent(parent: int) -> None:
    while True:
        await anyio.sleep(PARENT_POLL_S)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)
            return


@contextlib.asynccontextmanager
async def watching_parent(worker: Worker | None) -> AsyncIterator[None]:
    """In a worker: stop it (as SIGTERM would) once its parent process is gone. Outside
    one (plain `serve`): nothing at all."""
    if worker is None:
        yield
        return
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_watch_parent, worker.parent)
        try:
            yield
        finally:
            tasks.cancel_scope.cancel()
