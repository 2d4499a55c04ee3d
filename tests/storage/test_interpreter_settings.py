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


def test_the_collector_paused_for_the_start_runs_again_once_the_start_up_objects_are_frozen():
    probe = ("import gc; from appliance.core import interpreter; interpreter.pause_collector(); paused = not gc.isenabled(); "
             "interpreter.tune(); import appliance.app; interpreter.freeze_startup_objects(); print(paused, gc.isenabled())")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True"]


def test_importing_the_command_line_module_leaves_the_collector_on():
    """Only `python -m appliance` pauses it: a test or tool importing the module keeps its collector."""
    probe = "import gc; import appliance.__main__; print(gc.isenabled())"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True"]
