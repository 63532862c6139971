"""How the cyclic garbage collector runs in a `codemode serve` process.

This is the process owner's choice, so it lives in the command line: an application that
embeds the engine keeps its own settings. Measured with CPython's defaults (thresholds 700,
10, 10) on a portal answering `execute` calls (`benchmarks/results/hotpath.md`, "The garbage
collector"):

- the collector took ~1.3 ms of the ~14 ms of CPU an `execute` with one call costs; an
  `execute` allocates a burst of more than 700 container objects (request state, a guest's
  bindings), so nearly every call set off a young collection, which scanned the in-flight
  request too;
- a full collection walked the ~185,000 objects start-up leaves alive (modules, the app,
  catalogs and schemas) and held the GIL for 120-145 ms: every request of the process stood
  still meanwhile;
- collections run on whichever thread crosses the threshold, mostly the pool thread that
  builds guests at low priority, so the kernel could preempt it in the middle of one.

Once the server is up, `tune_for_serving` collects, then freezes what start-up built (the
collector no longer walks it: a full collection fell to ~12-19 ms) and raises the young
threshold to `YOUNG_THRESHOLD`, so request-scoped objects die by reference counting before a
collection sees them (collector time per `execute` ~1.3 -> ~0.07 ms). The cost: an object
built during start-up that later becomes garbage *in a reference cycle* (a config replaced
by a reload, for instance) is not freed; objects without cycles are freed as before.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Net container allocations between young collections (CPython's default is 700)."""


def tune_for_serving() -> None:
    """Call once the server accepts connections: start-up's objects are then long-lived."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
