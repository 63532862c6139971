"""A throwaway PostgreSQL cluster for tests: Debian's PostgreSQL binaries, a data directory in
a temporary directory, listening on 127.0.0.1 on a free port (its unix socket in the same
directory), trust authentication for one superuser, durability off (a test database is
thrown away). PostgreSQL refuses to run as root: as root the cluster is created and run as
the `postgres` user (or `nobody`), otherwise as the current user.

    with PgCluster.started() as cluster:
        url = cluster.new_database()   # postgresql+psycopg://codemode@127.0.0.1:PORT/db_1
        cluster.stop(); cluster.start()  # an outage, for fault tests
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.upstreams.harness import free_port

SUPERUSER = "codemode"


def pg_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian layout), or the one holding
    `pg_ctl` on PATH; None if PostgreSQL is not installed."""
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if versions:
        return Path(versions[-1]).parent
    found = shutil.which("pg_ctl")
    return None if found is None else Path(found).resolve().parent


def _run_as() -> str | None:
    """The unprivileged user to run PostgreSQL as when we are root; None: ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists")


@dataclass
class PgCluster:
    bin_dir: Path
    root: Path
    port: int
    user: str | None
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _cmd(self, tool: str, *args: str) -> list[str]:
        argv = [str(self.bin_dir / tool), *args]
        return argv if self.user is None else ["runuser", "-u", self.user, "--", *argv]

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(self._cmd(tool, *args), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {done.stderr or done.stdout}")

    @classmethod
    def create(cls) -> PgCluster:
        bin_dir = pg_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        user = _run_as()
        # Not under pytest's tmp_path: its parents are private to root (0700).
        root = Path(tempfile.mkdtemp(prefix="codemode-pg-"))
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        cluster = cls(bin_dir, root, free_port(), user)
        cluster._run(
            "initdb",
            "-D",
            str(cluster.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        return cluster

    def start(self) -> None:
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={self.port}",
                f"-c unix_socket_directories={self.root}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
                "-c shared_buffers=16MB",
            ]
        )
        log = str(self.root / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement with psql over the unix socket; its output, unaligned."""
        argv = self._cmd(
            "psql", "-h", str(self.root), "-p", str(self.port), "-U", SUPERUSER, "-d", database
        )
        done = subprocess.run(
            [*argv, "-v", "ON_ERROR_STOP=1", "-Atc", statement],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql {statement!r} failed: {done.stderr}")
        return done.stdout

    def new_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        name = f"db_{os.getpid()}_{next(self._names)}"
        self.sql(f"CREATE DATABASE {name}")
        return self.url(name)

    @classmethod
    @contextlib.contextmanager
    def started(cls) -> Iterator[PgCluster]:
        cluster = cls.create()
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.destroy()
