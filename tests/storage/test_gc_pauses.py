"""The collector settings `hearth run` applies (appliance/core/gc_pauses.py)."""
from __future__ import annotations

import subprocess
import sys


def test_run_settings_raise_the_young_threshold_and_freeze_what_start_up_built():
    probe = ("import gc; from appliance.core import gc_pauses; gc_pauses.tune(); import appliance.app; "
             "gc_pauses.freeze_startup_objects(); t = gc.get_threshold(); "
             "print(t[0], t[2], gc.get_freeze_count() > 10000, len(gc.get_objects(2)) < 1000)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["10000", "50", "True", "True"]
