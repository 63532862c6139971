"""The QuickJS WebAssembly module: compiled once per process, cached on disk, and the engine-wide
epoch ticker that lets the host interrupt running JavaScript."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path

import wasmtime

from sandbox.fastcall import Signature
from sandbox.stackpatch import export_stack_pointer

EPOCH_TICK_S = 0.005
"""Granularity of interruption: a runaway loop is stopped within a few ticks of its deadline."""


def _wasm_bytes() -> bytes:
    return (resources.files("qjs-wasi-reactor") / "qjs-wasi-reactor.wasm").read_bytes()


def _cache_dir() -> Path:
    if explicit := os.environ.get("CODEMODE_CACHE_DIR"):
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "codemode"


class WasmModule:
    """Engine + compiled module + epoch ticker, shared by every sandbox of the process."""

    def __init__(self) -> None:
        config = wasmtime.Config()
        config.epoch_interruption = True
        self.engine = wasmtime.Engine(config)
        self.module = self._load(export_stack_pointer(_wasm_bytes()))
        self.signatures: dict[str, Signature] = {}
        """Each export's `fastcall.signature`, read once per process rather than per instance."""
        self._running = 0
        self._count_lock = threading.Lock()
        self._wake = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="codemode-epoch", daemon=True)
        self._ticker.start()

    def _load(self, wasm: bytes) -> wasmtime.Module:
        key = hashlib.sha256(
            wasm + metadata.version("wasmtime").encode() + b"epoch-v1"
        ).hexdigest()[:24]
        path = _cache_dir() / f"qjs-{key}.cwasm"
        try:
            return wasmtime.Module.deserialize_file(self.engine, str(path))
        except (OSError, wasmtime.WasmtimeError):
            pass  # no cache yet, or a stale/corrupt one: compile and (re)write it
        module = wasmtime.Module(self.engine, wasm)
        self._store_cache(path, module.serialize())
        return module

    @staticmethod
    def _store_cache(path: Path, blob: bytearray) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, path)  # atomic: concurrent processes never read a torn file
        except OSError:
            pass  # a read-only home only costs the compile time on the next start

    def enter(self) -> None:
        """Wasm that may run long (agent JavaScript, a large free) starts on this thread: the
        epoch ticks until the matching `leave`. With nothing running the ticker sleeps instead
        of waking the process (and taking the GIL) 200 times a second. Cheap: a lock, and an
        event set only when the count leaves zero."""
        with self._count_lock:
            self._running += 1
            first = self._running == 1
        if first:
            self._wake.set()

    def leave(self) -> None:
        with self._count_lock:
            self._running -= 1

    @contextmanager
    def ticking(self) -> Iterator[None]:
        self.enter()
        try:
            yield
        finally:
            self.leave()

    def _tick(self) -> None:
        while True:
            if self._running:  # read without the lock: a stale value costs one tick or wait
                time.sleep(EPOCH_TICK_S)
                self.engine.increment_epoch()
            else:
                # An `enter` after this check sets the event, so the wait returns at once.
                self._wake.wait()
                self._wake.clear()


@lru_cache(maxsize=1)
def shared_module() -> WasmModule:
    return WasmModule()
