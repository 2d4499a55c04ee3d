"""`python -m bench.ab OLD NEW`: two Hearth source trees (checkouts, or `git archive` copies with
a `.venv` link) run the delivery scenario in turn, OLD, NEW, OLD, NEW, … — on a machine shared
with other work, runs side by side in time are the only fair comparison. Each run is a fresh
server: probes of one user's send reaching another's long-poll, idle or while 8 senders send as
fast as the server answers (`--mode load`), and the server's CPU time per event over the run.

    python -m bench.ab /tmp/main-copy . --mode load --runs 4
    python -m bench.ab /tmp/main-copy . --mode idle --samples 150
    python -m bench.ab . . --runs 1 --profile /tmp/p.raw   # py-spy record (pip install py-spy), raw stacks

The medians of each tree's runs are printed at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import servers
from .client import Api, message_text
from .scenarios import Ctx, Delivery, percentile


async def one_run(tree: Path, mode: str, samples: int, profile: str | None) -> dict[str, float]:
    servers.REPO = tree  # where the server runs from (its cwd, its .venv, its route table)
    servers.HearthServer._route_table_cached = False
    server = servers.HearthServer("hearth", Path(tempfile.mkdtemp(prefix="hearth-ab-")) / "data")
    server.python = tree / ".venv" / "bin" / "python"
    server.prepare()
    server.start()
    ctx = Ctx(server, Api(server.base_url), argparse.Namespace(bg_senders=8, delivery_samples=samples),
              lambda _: None)
    try:
        delivery = Delivery()
        await delivery.setup(ctx)
        for _ in range(20):  # warm up
            await delivery.sample(ctx)
        stop, sent = asyncio.Event(), 0

        async def background(user) -> None:
            nonlocal sent
            rooms, k = delivery.bg_rooms_of(user), 0
            while not stop.is_set():
                await ctx.api.send(user, rooms[k % 2], message_text(k))
                k += 1
                sent += 1

        tasks = [asyncio.create_task(background(u)) for u in delivery.bg_users] if mode == "load" else []
        if tasks:
            await asyncio.sleep(0.5)
        spy = None
        if profile:
            spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-r", "1000", "-p",
                                    str(server.pid), "-f", "raw", "-o", profile, "--nonblocking", "--threads"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        cpu0, t0, sent0 = server.cpu(), time.perf_counter(), sent
        times = [await delivery.sample(ctx) for _ in range(samples)]
        elapsed, cpu, events = time.perf_counter() - t0, server.cpu() - cpu0, sent - sent0 + samples
        if spy is not None:
            spy.send_signal(2)
            spy.wait()
        stop.set()
        await asyncio.gather(*tasks)
        return {"p50_ms": percentile(times, 50) * 1000, "p99_ms": percentile(times, 99) * 1000,
                "background_events_per_s": (sent - sent0) / elapsed, "cpu_ms_per_event": cpu * 1000 / events}
    finally:
        await ctx.api.close()
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs=2, type=Path, help="OLD and NEW source trees")
    parser.add_argument("--mode", choices=("idle", "load"), default="load")
    parser.add_argument("--samples", type=int, default=100, help="probes per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per tree")
    parser.add_argument("--profile", help="py-spy raw output of the last run (NEW's)")
    args = parser.parse_args(argv)
    results: list[list[dict[str, float]]] = [[], []]  # OLD's runs, NEW's (the trees may be the same)
    for run in range(args.runs):
        for i, tree in enumerate(args.trees):
            last = run == args.runs - 1 and i == 1
            with open("/proc/loadavg") as f:
                load = f.read().split()[0]
            r = asyncio.run(one_run(tree.resolve(), args.mode, args.samples, args.profile if last else None))
            results[i].append(r)
            print(f"{['OLD', 'NEW'][i]} {tree} (load {load}): " + ", ".join(f"{k} {v:.2f}" for k, v in r.items()),
                  flush=True)
    for i, runs in enumerate(results):
        print(f"{['OLD', 'NEW'][i]} median: " + ", ".join(
            f"{k} {statistics.median(r[k] for r in runs):.2f}" for k in runs[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
