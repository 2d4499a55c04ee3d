"""The interpreter settings `hearth run` applies (appliance/core/interpreter.py)."""
from __future__ import annotations

import subprocess
import sys


def test_run_settings_shorten_the_switch_interval_raise_the_young_threshold_and_freeze_start_up():
    probe = ("import gc; import sys; from appliance.core import interpreter; interpreter.tune(); import appliance.app; "
             "interpreter.freeze_startup_objects(); t = gc.get_threshold(); "
             "print(sys.getswitchinterval(), t[0], t[2], gc.get_freeze_count() > 10000, len(gc.get_objects(2)) < 1000)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0.001", "10000", "50", "True", "True"]
