"""`python -m bench.floor`: the floor of the mandated stack, without any Hearth code.

A Quart app on Hypercorn (on uvloop, as Hearth runs; HEARTH_EVENT_LOOP=asyncio for the standard
loop), with pydantic, pydantic-settings and PyNaCl imported (what any Hearth
start needs before its own code), answering /versions and a PUT .../send/... that reads its
JSON body and answers an event ID. Measured the way `make bench` measures the servers: start to
the first /versions answer, idle resident memory, and requests/s from the bench's own load
generator (20 concurrent senders) with the CPU each side spends per request. Whatever Hearth
does on top of this stack, it cannot start faster, hold less memory or take more requests per
second than this on the same machine.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import time

from .client import Api, User
from .http import get_status
from .servers import cpu_seconds, free_port, rss_bytes, server_env

MIB = 1024 * 1024


def serve(port: int) -> None:
    import nacl.signing  # noqa: F401  (imported by every Hearth start)
    import pydantic  # noqa: F401
    import pydantic_settings  # noqa: F401
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config
    from quart import Quart, request

    app = Quart("floor")

    @app.get("/_matrix/client/versions")
    async def versions():
        return {"versions": ["v1.11"]}

    @app.put("/_matrix/client/v3/rooms/<room_id>/send/<event_type>/<txn_id>")
    async def send(room_id: str, event_type: str, txn_id: str):
        await request.get_json()
        return {"event_id": "$" + txn_id}

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    if os.environ.get("HEARTH_EVENT_LOOP", "uvloop") == "asyncio":  # the loop Hearth runs on
        asyncio.run(hypercorn_serve(app, config))
    else:
        import uvloop

        uvloop.run(hypercorn_serve(app, config))


def start(port: int) -> tuple[subprocess.Popen, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bench.floor", "--serve", str(port)], env=server_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while get_status("127.0.0.1", port, "/_matrix/client/versions") != 200:
        time.sleep(0.002)
    return proc, time.perf_counter() - t0


async def throughput(port: int, pid: int, senders: int, messages: int) -> tuple[float, float, float]:
    api = Api(f"http://127.0.0.1:{port}")
    user = User("@floor:bench.local", "token", "DEVICE")

    async def sender(i: int) -> None:
        for k in range(messages):
            await api.call("PUT", f"/rooms/!r{i % 10}:bench.local/send/m.room.message/t{i}_{k}", user,
                           {"msgtype": "m.text", "body": f"message {k}"})

    await sender(-1)  # warm the connection pool and the server
    own0, srv0 = resource.getrusage(resource.RUSAGE_SELF), cpu_seconds(pid)
    t0 = time.perf_counter()
    await asyncio.gather(*(sender(i) for i in range(senders)))
    wall = time.perf_counter() - t0
    own1, srv1 = resource.getrusage(resource.RUSAGE_SELF), cpu_seconds(pid)
    await api.close()
    n = senders * messages
    loadgen = (own1.ru_utime + own1.ru_stime - own0.ru_utime - own0.ru_stime) / n
    return n / wall, (srv1 - srv0) / n, loadgen


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    p.add_argument("--starts", type=int, default=5)
    p.add_argument("--senders", type=int, default=20)
    p.add_argument("--messages", type=int, default=200)
    p.add_argument("--settle", type=float, default=3.0)
    args = p.parse_args()
    if args.serve:
        serve(args.serve)
        return
    times, rss = [], []
    for _ in range(args.starts):
        port = free_port()
        proc, took = start(port)
        times.append(took)
        time.sleep(args.settle)
        rss.append(rss_bytes(proc.pid) / MIB)
        if len(times) < args.starts:
            proc.terminate()
            proc.wait()
    rate, server_cpu, loadgen_cpu = asyncio.run(throughput(port, proc.pid, args.senders, args.messages))
    proc.terminate()
    proc.wait()
    loop = os.environ.get("HEARTH_EVENT_LOOP", "uvloop")
    print(f"stack floor (Quart + Hypercorn on {loop} + pydantic-settings + PyNaCl, no Hearth code):\n"
          f"  start to /versions   median {statistics.median(times):.3f} s (min {min(times):.3f})\n"
          f"  idle memory          median {statistics.median(rss):.1f} MiB\n"
          f"  trivial PUT          {rate:.0f} requests/s with {args.senders} senders; server CPU "
          f"{server_cpu * 1000:.2f} ms/request, load generator CPU {loadgen_cpu * 1000:.2f} ms/request")


if __name__ == "__main__":
    main()
