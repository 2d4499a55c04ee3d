"""`python -m bench`: Hearth and Synapse side by side over the Client-Server API.

    make bench                       # everything, default sizes (about 10 minutes)
    python -m bench --servers hearth --tiny   # the harness alone, in seconds
    python -m bench --only send,sync --reps 3

Each figure is the median over `--reps` repetitions; repetitions alternate A/B/A/B.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from . import report
from .client import Api
from .bridges import SCENARIOS as BRIDGE_SCENARIOS
from .household import Household
from .scenarios import ALL, Ctx
from .servers import REPO, SERVERS

MIB = 1024 * 1024


class Progress:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.width = 0

    def __call__(self, text: str) -> None:
        line = f"[bench {time.perf_counter() - self.t0:6.1f}s] {text}"
        if self.tty:
            sys.stderr.write("\r" + line.ljust(self.width))
            self.width = len(line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", default="hearth,synapse", help="comma-separated: hearth, synapse")
    p.add_argument("--only", default="", help="comma-separated scenarios: " + ",".join(s.name for s in ALL)
                   + ",backfill,irc,household,federation")
    p.add_argument("--reps", type=int, default=2, help="repetitions of each scenario per server")
    p.add_argument("--register-users", type=int, default=20, help="users registered per repetition")
    p.add_argument("--register-concurrency", type=int, default=4)
    p.add_argument("--senders", type=int, default=20, help="concurrent senders in the send scenario")
    p.add_argument("--rooms", type=int, default=10, help="rooms in the send scenario")
    p.add_argument("--messages", type=int, default=25, help="messages per sender per repetition")
    p.add_argument("--delivery-samples", type=int, default=20, help="probes per repetition, idle and loaded")
    p.add_argument("--bg-senders", type=int, default=8, help="background senders during loaded delivery")
    p.add_argument("--sync-rooms", type=int, default=30, help="rooms of the syncing user")
    p.add_argument("--sync-history", type=int, default=20, help="messages in each of those rooms")
    p.add_argument("--ss-rooms", type=int, default=200, help="rooms of the sliding-sync user")
    p.add_argument("--fed-state", type=int, default=2000, help="state events of the remote room joined (federation)")
    p.add_argument("--join-members", type=int, default=50, help="members of the room being joined")
    p.add_argument("--join-state", type=int, default=50, help="extra state events in that room")
    p.add_argument("--joiners", type=int, default=3, help="joins timed per repetition")
    p.add_argument("--ingest-events", type=int, default=1000, help="events per ingest repetition")
    p.add_argument("--ingest-senders", type=int, default=16, help="concurrent senders of the ingest batch")
    p.add_argument("--backfill-events", type=int, default=3000, help="history backfilled per repetition")
    p.add_argument("--irc-lines", type=int, default=1000, help="lines said on IRC per repetition")
    p.add_argument("--household-messages", type=int, default=20_000, help="events of the household's day")
    p.add_argument("--household-images", type=int, default=300, help="photos sent during the day")
    p.add_argument("--household-reps", type=int, default=1, help="days replayed per server (each is long)")
    p.add_argument("--pi-budget", action="store_true",
                   help="run Hearth in a cgroup of 1 CPU and 512 MiB (a Raspberry Pi's budget; needs root)")
    p.add_argument("--cold-starts", type=int, default=None, help="restarts timed (default: --reps)")
    p.add_argument("--settle", type=float, default=3.0, help="seconds of quiet before memory is read")
    p.add_argument("--tiny", action="store_true", help="minimal sizes (proves the harness works)")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "latest.json"))
    p.add_argument("--workdir", default=None, help="where the data directories go (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the data directories and logs")
    args = p.parse_args(argv)
    if args.tiny:
        for k, v in dict(reps=1, register_users=2, register_concurrency=2, senders=3, rooms=2, messages=3,
                         delivery_samples=2, bg_senders=2, sync_rooms=2, sync_history=2, join_members=3,
                         join_state=2, joiners=1, ss_rooms=3, ingest_events=20, ingest_senders=2, settle=0.5,
                         household_messages=300, household_images=5, backfill_events=200, irc_lines=50, fed_state=20).items():
            setattr(args, k, v)
    if args.cold_starts is None:
        args.cold_starts = args.reps
    return args


async def run(args: argparse.Namespace, progress: Progress) -> dict:
    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    for n in names:
        if n not in SERVERS:
            raise SystemExit(f"unknown server {n!r}")
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    scenarios = [s for s in [*ALL, *BRIDGE_SCENARIOS, Household] if not only or s.name in only]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="hearth-bench-"))
    servers = {n: SERVERS[n](n, work / n / "data") for n in names}
    budget = None
    if args.pi_budget and "hearth" in servers:
        from .budget import PiBudget

        budget = PiBudget()
        budget.create()
        servers["hearth"].budget = budget
        progress(f"Hearth runs within {budget.describe()}")
    raw: dict[str, dict[str, list[float]]] = {n: defaultdict(list) for n in names}
    ctxs: dict[str, Ctx] = {}
    loadgen_cpu0 = time.process_time()
    try:
        for n, s in servers.items():
            progress(f"preparing {n}")
            s.prepare()
        for n, s in servers.items():
            progress(f"first start of {n} (empty data directory)")
            raw[n]["first_start_s"].append(s.start())
        for rep in range(args.cold_starts):
            for n, s in servers.items():
                progress(f"cold start {rep + 1}/{args.cold_starts}: {n}")
                s.stop()
                raw[n]["cold_start_s"].append(s.start())
        progress(f"idle for {args.settle:g} s before reading memory")
        await asyncio.sleep(args.settle)
        for n, s in servers.items():
            raw[n]["idle_rss_start_mib"].append(s.rss() / MIB)

        for n, s in servers.items():
            ctxs[n] = Ctx(s, Api(s.base_url), args, progress)
        for cls in scenarios:
            instances = {n: cls() for n in names}
            for n in names:
                progress(f"{cls.name}: setting up on {n}")
                await instances[n].setup(ctxs[n])
            for rep in range(getattr(args, f"{cls.name}_reps", args.reps)):
                for n in names:  # A, B, A, B …
                    progress(f"{cls.name}: repetition {rep + 1}/{args.reps} on {n}")
                    for key, value in (await instances[n].run(ctxs[n], rep)).items():
                        raw[n][key].append(value)
            for instance in instances.values():
                if hasattr(instance, "close"):
                    instance.close()

        if (not only or "federation" in only) and set(names) == {"hearth", "synapse"}:
            # Three servers of its own (two Synapses and a Hearth, with TLS): bench/federation.py.
            from .federation import run_federation

            for n, figures in (await run_federation(args, progress, work)).items():
                for key, values in figures.items():
                    raw[n][key] += values

        progress(f"idle for {args.settle:g} s before reading memory")
        await asyncio.sleep(args.settle)
        for n, s in servers.items():
            raw[n]["idle_rss_after_load_mib"].append(s.rss() / MIB)
        versions = {n: s.version() for n, s in servers.items()}
    finally:
        for ctx in ctxs.values():
            await ctx.api.close()
        for s in servers.values():
            s.stop()
        if budget is not None:
            budget.remove()
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    rows = report.summarise(raw, names)
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": report.machine(),
        "servers": versions,
        "config": {k: v for k, v in vars(args).items() if k not in ("out", "workdir", "keep")},
        "loadgen_cpu_s": round(time.process_time() - loadgen_cpu0, 2),
        "wall_s": round(time.perf_counter() - progress.t0, 1),
        "figures": rows,
        "raw": {n: dict(v) for n, v in raw.items()},
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    progress = Progress()
    result = asyncio.run(run(args, progress))
    progress.done()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    out.with_suffix(".md").write_text(report.markdown(result) + "\n")
    m = result["machine"]
    print(f"{', '.join(result['servers'].values())} — {m['nproc']} CPUs ({m['cpu']}), "
          f"{m['memory_gib']} GiB, {result['wall_s']} s, load generator CPU {result['loadgen_cpu_s']} s")
    print(report.table(result["figures"]))
    print(f"\nJSON: {out} (Markdown: {out.with_suffix('.md')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
