"""Figures, targets, the terminal table and the JSON file."""
from __future__ import annotations

import math
import os
import platform
import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool
    ratio_target: float | None = None      # Hearth/Synapse must be >= (higher) or <= (lower) this
    absolute_target: float | None = None   # Hearth alone must be >= (higher) or < (lower) this

    def target_text(self) -> str:
        parts = []
        if self.ratio_target is not None:
            r = self.ratio_target
            txt = f"{r:g}x" if r >= 1 else (f"1/{1 / r:g}" if abs(1 / r - round(1 / r)) < 1e-9 else f"{r:g}x")
            parts.append(("≥ " if self.higher_is_better else "≤ ") + txt)
        if self.absolute_target is not None:
            parts.append(("≥ " if self.higher_is_better else "< ") + f"{self.absolute_target:g} {self.unit}")
        return ", ".join(parts)

    def met(self, hearth: float | None, synapse: float | None) -> bool | None:
        if self.ratio_target is None and self.absolute_target is None:
            return None
        if hearth is None or (isinstance(hearth, float) and math.isnan(hearth)):
            return None
        ok = True
        if self.ratio_target is not None:
            if not synapse:
                return None
            r = hearth / synapse
            ok &= r >= self.ratio_target if self.higher_is_better else r <= self.ratio_target
        if self.absolute_target is not None:
            ok &= hearth >= self.absolute_target if self.higher_is_better else hearth < self.absolute_target
        return ok


METRICS = [
    Metric("first_start_s", "first start (empty data dir) to /versions", "s", False),
    Metric("cold_start_s", "cold start (restart) to /versions", "s", False, 0.3, 0.4),
    Metric("idle_rss_start_mib", "idle memory after start", "MiB", False, 0.4, 40),
    Metric("register_users_per_s", "register users", "users/s", True),
    Metric("register_p50_ms", "register p50", "ms", False),
    Metric("send_events_per_s", "send throughput, many users and rooms", "events/s", True, 10),
    Metric("send_p50_ms", "send latency p50", "ms", False),
    Metric("send_p95_ms", "send latency p95", "ms", False),
    Metric("send_p99_ms", "send latency p99", "ms", False),
    Metric("send_server_cpu_ms_per_event", "server CPU per sent event", "ms", False),
    Metric("delivery_idle_p50_ms", "delivery (send → other's /sync) idle p50", "ms", False),
    Metric("delivery_idle_p99_ms", "delivery idle p99", "ms", False, 0.15),
    Metric("delivery_load_p50_ms", "delivery under load p50", "ms", False),
    Metric("delivery_load_p99_ms", "delivery under load p99", "ms", False, 0.1),
    Metric("delivery_background_events_per_s", "background load during delivery", "events/s", True, 20),
    Metric("initial_sync_ms", "initial /sync, many rooms with history", "ms", False, 1 / 6),
    Metric("incremental_sync_ms", "incremental /sync", "ms", False),
    Metric("ss_first_list_ms", "sliding sync: first room list (top 20), many rooms", "ms", False, 1 / 5),
    Metric("ss_delivery_p50_ms", "sliding sync: delivery to a waiting request p50", "ms", False, 1 / 5),
    Metric("ss_delivery_p99_ms", "sliding sync: delivery p99", "ms", False),
    Metric("join_ms", "join a room with many members and state", "ms", False),
    Metric("ingest_seq_events_per_s", "history ingest, one sender in sequence", "events/s", True),
    Metric("ingest_concurrent_events_per_s", "history ingest, concurrent senders, one room", "events/s", True,
           None, 5000),
    Metric("db_bytes_per_1000_messages", "database size per 1,000 messages", "KiB", False, 1 / 3),
    Metric("written_bytes_per_message", "bytes written to disk per message", "B", False),
    Metric("idle_rss_after_load_mib", "idle memory after load", "MiB", False, 0.4, 40),
    Metric("bridge_backfill_events_per_s", "history backfilled into a portal", "events/s", True, None, 5000),
    Metric("bridge_irc_to_matrix_per_s", "messages bridged IRC → Matrix", "messages/s", True),
    Metric("fed_join_s", "join a remote room with --fed-state (2,000) state events", "s", False),
    Metric("fed_in_p50_ms", "federated delivery to us (Synapse → server → client) p50", "ms", False),
    Metric("fed_in_p99_ms", "federated delivery to us p99", "ms", False),
    Metric("fed_out_p50_ms", "federated delivery from us (server → Synapse → client) p50", "ms", False),
    Metric("fed_out_p99_ms", "federated delivery from us p99", "ms", False),
    Metric("household_events_per_s", "household's day: events per second", "events/s", True),
    Metric("household_peak_rss_mib", "household's day: peak memory", "MiB", False, None, 150),
    Metric("household_final_rss_mib", "household's day: memory at the end", "MiB", False),
    Metric("household_cpu_s", "household's day: server CPU", "s", False),
    Metric("household_written_bytes_per_event", "household's day: bytes written per event", "B", False, 0.25),
    Metric("household_delivery_p50_ms", "household's day: delivery p50", "ms", False),
    Metric("household_delivery_p99_ms", "household's day: delivery p99", "ms", False, 0.2),
    Metric("household_db_mib", "household's day: database size", "MiB", False),
    Metric("household_media_mib", "household's day: media size", "MiB", False),
    Metric("household_backup_s", "household's day: online backup at the end", "s", False),
]
SCALE = {"db_bytes_per_1000_messages": 1 / 1024}


def machine() -> dict:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo") as f:
            mem_kib = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_kib / 1024 / 1024, 1),
            "python": platform.python_version(), "kernel": platform.release(),
            "loadavg_at_end": [round(x, 2) for x in load]}


def summarise(raw: dict[str, dict[str, list[float]]], servers: list[str]) -> list[dict]:
    """Median over repetitions of every figure; ratio Hearth/Synapse; target met or not."""
    rows = []
    for m in METRICS:
        vals: dict[str, float | None] = {}
        for s in servers:
            xs = [x for x in raw.get(s, {}).get(m.key, []) if x is not None and not math.isnan(x)]
            vals[s] = statistics.median(xs) * SCALE.get(m.key, 1) if xs else None
        if all(v is None for v in vals.values()):
            continue
        h, syn = vals.get("hearth"), vals.get("synapse")
        ratio = h / syn if h is not None and syn else None
        rows.append({"key": m.key, "label": m.label, "unit": m.unit if m.key not in SCALE else "KiB",
                     "hearth": h, "synapse": syn, "ratio": ratio,
                     "higher_is_better": m.higher_is_better, "target": m.target_text() or None,
                     "met": m.met(h, syn)})
    return rows


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if abs(v) >= 0.1 else f"{v:.3f}"


def _ratio(r: float | None) -> str:
    if r is None:
        return "-"
    return f"{r:.1f}x" if r >= 1 else f"{r:.2f}x (1/{1 / r:.1f})" if r > 0 else "0"


def table(rows: list[dict]) -> str:
    head = ("figure", "unit", "Hearth", "Synapse", "Hearth/Synapse", "target", "met")
    body = [(r["label"], r["unit"], _fmt(r["hearth"]), _fmt(r["synapse"]), _ratio(r["ratio"]),
             r["target"] or "", {True: "yes", False: "NO", None: ""}[r["met"]]) for r in rows]
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    right = {2, 3, 4}

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(head), line(["-" * w for w in widths])]
    out += [line(b) for b in body]
    return "\n".join(out)


def markdown(result: dict) -> str:
    """The figures as a Markdown table (for the README), with the machine they came from."""
    m = result["machine"]
    lines = [
        f"Run of {result['when']}: {', '.join(result['servers'].values())}; {m['nproc']} CPUs ({m['cpu']}), "
        f"{m['memory_gib']} GiB RAM, Python {m['python']}; load average at the end {m['loadavg_at_end']}.",
        "",
        "| figure | unit | Hearth | Synapse | Hearth/Synapse | target | met |",
        "|---|---|--:|--:|--:|---|---|",
    ]
    for r in result["figures"]:
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        lines.append(f"| {r['label']} | {r['unit']} | {_fmt(r['hearth'])} | {_fmt(r['synapse'])} | "
                     f"{_ratio(r['ratio'])} | {r['target'] or ''} | {met} |")
    return "\n".join(lines)
