"""Scheduling priority of the sandbox's own threads (Linux; elsewhere a no-op).

A thread running agent JavaScript that has used more than a few milliseconds of CPU sits
below the event loop, so a runaway loop takes only the CPU the loop and the upstream
processes leave over (`sandbox/threads.py` says why ordinary runs do not); the thread that
refills the pool of ready instances sits lower still.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

RUN_NICE = 10
"""Threads executing JavaScript once their run proves long (`sandbox/threads.py`). On 2
cores, two runaway loops otherwise more than doubled every other client's p95
(benchmarks/load.py)."""
FILL_NICE = 15
"""The pool filler: at RUN_NICE it delayed warm starts from ~0.2 ms to ~1-2 ms."""


def lower_this_thread(nice: int) -> None:
    # Only Linux applies a thread id to one thread; elsewhere it would name a process.
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
