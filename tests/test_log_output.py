"""`hearth run` writes its log lines in batches (appliance/core/log_output.py): an info line waits
for the next flush, a warning goes out at once with everything before it."""
from __future__ import annotations

import os
import select
import subprocess
import sys

CHILD = """
import asyncio, logging, sys, time
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
from appliance.core import log_output
handler = log_output.install()
assert handler is not None and logging.getLogger().handlers == [handler]
log = logging.getLogger("t")
log.info("first")
print("1", flush=True); time.sleep(0.5)
log.warning("second")
print("2", flush=True); time.sleep(0.3)
async def later():
    log_output.flush_periodically(handler, asyncio.get_running_loop())
    log.info("third")
    await asyncio.sleep(4 * log_output.FLUSH_INTERVAL_S)
asyncio.run(later())
print("3", flush=True); time.sleep(0.3)
"""


def _available(fd: int, wait: float) -> bytes:
    """What arrives on fd within `wait` seconds."""
    got = b""
    while True:
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            return got
        chunk = os.read(fd, 4096)
        if not chunk:
            return got
        got += chunk
        wait = 0.05


def test_info_lines_wait_for_the_flush_and_a_warning_writes_at_once():
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        err = proc.stderr.fileno()
        assert proc.stdout.readline() == b"1\n"
        assert _available(err, 0.3) == b""  # the info line is held
        assert proc.stdout.readline() == b"2\n"
        assert _available(err, 1).splitlines() == [b"INFO first", b"WARNING second"]
        assert proc.stdout.readline() == b"3\n"
        assert _available(err, 1).splitlines() == [b"INFO third"]  # written by the periodic flush
    finally:
        proc.kill()
        proc.wait()
