"""`python -m bench.floor` (the stack floor the README quotes) runs end to end at minimal sizes.
Timings are never asserted: only that each figure came out."""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_stack_floor_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "bench.floor", "--starts", "1", "--senders", "2", "--messages", "5", "--settle", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert re.search(r"start to /versions\s+median \d+\.\d+ s", out), out
    assert re.search(r"idle memory\s+median \d+\.\d MiB", out), out
    assert re.search(r"\d+ requests/s with 2 senders; server CPU \d+\.\d+ ms/request, load generator CPU", out), out
