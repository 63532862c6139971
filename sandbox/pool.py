"""A small stock of ready guests, refilled in the background, so a run starts at once.

A guest serves exactly one run and is then discarded: the pool only moves instantiation and
prelude evaluation (a few ms) off the critical path, it never reuses an instance.

When it refills matters as much: building a guest is mostly Python holding the GIL, so a
refill started as a run took its guest ran *beside* that run and slowed it (one call, in
process: 3.5 ms p50 with the refill beside it, 2.2 ms without). The stock is therefore topped
up when a run ends (`refill`), and at once only when taking leaves it at `LOW_WATER` or
below, which is when runs come faster than they end.
"""

from __future__ import annotations

import threading
from collections import deque

from sandbox.guest import Guest
from sandbox.limits import Limits
from sandbox.priority import FILL_NICE, lower_this_thread
from sandbox.wasm import WasmModule

LOW_WATER = 1
"""Ready guests left at or below which taking one refills at once, not at the run's end."""


class GuestPool:
    def __init__(self, wasm: WasmModule, limits: Limits, size: int) -> None:
        self._wasm = wasm
        self._limits = limits
        self._size = size
        self._ready: deque[Guest] = deque()
        self._wanted = threading.Event()
        self._closed = False
        self._filler: threading.Thread | None = None
        if size > 0:
            self._filler = threading.Thread(target=self._fill, name="codemode-pool", daemon=True)
            self._filler.start()
            self._wanted.set()

    def take(self, limits: Limits) -> Guest:
        """A fresh guest for `limits`: from the stock when its memory limits match."""
        if self._compatible(limits):
            try:
                guest = self._ready.popleft()
            except IndexError:
                guest = None
            if len(self._ready) <= LOW_WATER:
                self._wanted.set()
            if guest is not None:
                return guest
        return Guest(self._wasm, limits)

    def refill(self) -> None:
        """Top the stock up in the background (a run has ended: nothing of it is slowed)."""
        if self._size > 0:
            self._wanted.set()

    def _compatible(self, limits: Limits) -> bool:
        return (
            self._size > 0
            and limits.memory_bytes == self._limits.memory_bytes
            and limits.store_memory_bytes == self._limits.store_memory_bytes
        )

    def _fill(self) -> None:
        lower_this_thread(FILL_NICE)
        while not self._closed:
            self._wanted.wait()
            self._wanted.clear()
            while not self._closed and len(self._ready) < self._size:
                self._ready.append(Guest(self._wasm, self._limits))

    @property
    def ready(self) -> int:
        return len(self._ready)

    def close(self) -> None:
        self._closed = True
        self._wanted.set()
        while self._ready:
            self._ready.popleft().close()
