"""Interpreter settings for a server whose requests all run on one event loop.

The GIL's switch interval. The event loop and the database writer thread share the GIL. When
one of them wants it, CPython lets the other run on for up to the switch interval (5 ms by
default) before handing it over: a commit whose SQLite work is done waited that long to hand
its results back, and every send in the group commit with it. At 1 ms, under the bench's send
load, delivery under load went from p50 10.7-11.2 / p99 16.3 ms to 8.1-9.8 / 12.3-13.3 ms and
throughput up ~10 % (two runs each way); the cost is more frequent GIL hand-overs when both
threads are busy, which is the case this setting is for.

The cyclic garbage collector's pauses. A pause of the collector is a pause of every request.
With CPython's default thresholds (700, 10, 10), a full (generation 2) collection ran every
few seconds under a send load and walked every tracked object: 40-70 ms each on the
benchmark machine, which was most of the p99 of message delivery under load.

Three measures, the first two standard practice for long-running CPython servers:
- after start-up, the objects built so far (modules, routes, services: tens of thousands, alive
  until the process ends) are moved out of the collector's sight with `gc.freeze()`, so a full
  collection no longer walks them;
- the first generation's threshold is raised, so young objects are examined in larger batches
  and fewer of them survive into the old generations only to be walked again there;
- while the server starts (`python -m appliance`: from its first import until the objects of the
  start are frozen, `FREEZE_AFTER_S` after it serves), the collector does not run at all.
  Importing ~800 modules and building the services makes hundreds of thousands of objects that
  live as long as the process, and at the default thresholds the collector walked them again and
  again (~50 ms of a ~0.45 s start on the benchmark machine), finding no
  garbage (the first collection after the start, `freeze_startup_objects`, finds what there is).
  Switching it back on any earlier would cost as much: the first young collection would walk
  every object made since the pause.

Memory is unaffected by the first (objects are still freed by reference counting; freezing
only stops cycle detection among start-up objects, which are never garbage) and barely by the
second (at most a few thousand more young objects wait for their collection).
"""
from __future__ import annotations

import gc
import sys

SWITCH_INTERVAL_S = 0.001  # CPython's default is 0.005
YOUNG_THRESHOLD = 10_000  # CPython's default is 700
FREEZE_AFTER_S = 2.0  # after start-up, once the first requests have been answered
OLD_THRESHOLD = 50  # middle-generation collections between full ones; the default is 10


def pause_collector() -> None:
    """At the start of `python -m appliance`: no cyclic collection until
    `freeze_startup_objects` (or `resume_collector`)."""
    gc.disable()


def resume_collector() -> None:
    """An operator command, not `run`: collect as usual again."""
    gc.enable()


def tune() -> None:
    """Before the app is built: a shorter GIL switch interval; young objects collected in
    larger batches."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    _, middle, _ = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, OLD_THRESHOLD)


def freeze_startup_objects() -> None:
    """Once serving: what start-up built lives as long as the process; stop walking it. The
    collector, paused since the first import, runs again from here on; what the start freed
    (its garbage, found by this first collection, and the migrations' and imports' buffers) is
    handed back to the system."""
    from .memory import release_free_memory

    gc.collect()
    gc.freeze()
    gc.enable()
    release_free_memory()
