"""The admin dashboard's numbers: version, uptime, CPU and memory, database and media size, disk
space, and a forecast of when the disk will be full.

CPU and memory come from /proc (Linux; elsewhere they are shown as unknown). CPU use is measured
between two looks: the machine's busy share from /proc/stat and Hearth's own from
/proc/self/stat, since the previous look (or since start-up).

The forecast fits a straight line (least squares) through the disk usage samples of the last
30 days, one stored an hour at most (`disk_samples`, migration 0086). With fewer than
MIN_SAMPLES samples spanning MIN_SPAN_S, it honestly says there is not enough data yet.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..storage.stores.disk_samples import DiskSampleStore
from ..storage.stores.media import MediaStore
from .health import HealthService

SAMPLE_EVERY_S = 3600
WINDOW_S = 30 * 86400
MIN_SAMPLES = 3
MIN_SPAN_S = 6 * 3600
KEEP_S = 90 * 86400


@dataclass(frozen=True, slots=True)
class Forecast:
    state: str                    # "not_enough_data" | "not_growing" | "growing"
    seconds_until_full: float | None = None
    bytes_per_day: float | None = None
    samples: int = 0
    span_s: float = 0.0


def forecast(samples: list[tuple[float, int]], free_bytes: int, *, min_samples: int = MIN_SAMPLES,
             min_span_s: float = MIN_SPAN_S) -> Forecast:
    """Least-squares line through (time in seconds, used bytes); time until `free_bytes` is used."""
    n = len(samples)
    span = (max(t for t, _ in samples) - min(t for t, _ in samples)) if samples else 0.0
    if n < min_samples or span < min_span_s:
        return Forecast("not_enough_data", samples=n, span_s=span)
    mean_t = sum(t for t, _ in samples) / n
    mean_u = sum(u for _, u in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    cov = sum((t - mean_t) * (u - mean_u) for t, u in samples)
    slope = cov / var if var else 0.0          # bytes per second
    per_day = slope * 86400
    if slope <= 0 or per_day < 1024 * 1024 / 30:  # under ~1 MiB a month: not filling up in any useful sense
        return Forecast("not_growing", bytes_per_day=per_day, samples=n, span_s=span)
    return Forecast("growing", seconds_until_full=max(0.0, free_bytes / slope), bytes_per_day=per_day,
                    samples=n, span_s=span)


@dataclass
class _CpuLook:
    at: float
    total_ticks: int = 0
    idle_ticks: int = 0
    process_ticks: int = 0


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _cpu_look() -> _CpuLook:
    look = _CpuLook(time.monotonic())
    stat = _read("/proc/stat")
    if stat:
        fields = stat.splitlines()[0].split()[1:]
        values = [int(v) for v in fields[:8]]
        look.total_ticks = sum(values)
        look.idle_ticks = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    own = _read("/proc/self/stat")
    if own:
        rest = own.rsplit(")", 1)[1].split()
        look.process_ticks = int(rest[11]) + int(rest[12])  # utime, stime (fields 14 and 15)
    return look


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    text = _read("/proc/meminfo") or ""
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0]) * 1024
    return out


def _process_rss() -> int | None:
    for line in (_read("/proc/self/status") or "").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


def _dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


@dataclass
class ServerStatusService:
    disk_samples: DiskSampleStore
    media: MediaStore
    data_dir: Path
    database_path: Path
    started_at: float
    version: str
    health: HealthService        # disk full flag, backups, warnings
    _last_cpu: _CpuLook = field(default_factory=_cpu_look)

    # -- samples ----------------------------------------------------------------------------

    async def record_sample(self, now: float | None = None, *, force: bool = False) -> bool:
        """Store the disk usage unless a sample was stored within the hour; True if stored."""
        now = time.time() if now is None else now
        usage = shutil.disk_usage(self.data_dir)
        ts = int(now * 1000)
        return await self.disk_samples.add_spaced(ts, usage.used, usage.total,
                                                  min_gap_ms=None if force else SAMPLE_EVERY_S * 1000,
                                                  drop_before_ts=ts - KEEP_S * 1000)

    async def add_sample(self, ts_s: float, used_bytes: int, total_bytes: int) -> None:
        """A sample with a given time (imports, tests)."""
        await self.disk_samples.add(int(ts_s * 1000), used_bytes, total_bytes)

    async def samples(self, now: float | None = None) -> list[tuple[float, int]]:
        now = time.time() if now is None else now
        rows = await self.disk_samples.since(int((now - WINDOW_S) * 1000))
        return [(ts / 1000, used) for ts, used in rows]

    async def run(self) -> None:
        """Background: one sample an hour, so the forecast has data even if nobody looks."""
        while True:
            try:
                await self.record_sample()
            except Exception:  # a full disk, a closing database: try again later
                pass
            await asyncio.sleep(SAMPLE_EVERY_S)

    # -- the report -------------------------------------------------------------------------

    def cpu(self) -> dict[str, float | None]:
        now = _cpu_look()
        before, self._last_cpu = self._last_cpu, now
        ticks = now.total_ticks - before.total_ticks
        system = (1 - (now.idle_ticks - before.idle_ticks) / ticks) * 100 if ticks > 0 else None
        elapsed = now.at - before.at
        hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        own = ((now.process_ticks - before.process_ticks) / hz / elapsed * 100) if elapsed > 0.05 else None
        load = None
        try:
            load = os.getloadavg()[0]
        except OSError:
            pass
        return {"system_percent": system, "hearth_percent": own, "load1": load, "cores": os.cpu_count()}

    def memory(self) -> dict[str, int | None]:
        info = _meminfo()
        return {"total": info.get("MemTotal"), "available": info.get("MemAvailable"), "hearth_rss": _process_rss()}

    async def storage(self) -> dict[str, Any]:
        db_bytes = sum(p.stat().st_size for p in (self.database_path, Path(f"{self.database_path}-wal"))
                       if p.exists())
        media_rows = await self.media.stored_totals()
        media_dir = self.data_dir / "media"
        media_disk = await asyncio.to_thread(_dir_size, media_dir) if media_dir.exists() else 0
        usage = shutil.disk_usage(self.data_dir)
        return {"database_bytes": db_bytes, "media_files": media_rows[0], "media_bytes": media_rows[1],
                "media_disk_bytes": media_disk, "disk_total": usage.total, "disk_used": usage.used,
                "disk_free": usage.free}

    async def report(self) -> dict[str, Any]:
        await self.record_sample()
        storage = await self.storage()
        fc = forecast(await self.samples(), storage["disk_free"])
        health = await self.health.report()
        return {"version": self.version, "uptime_s": time.time() - self.started_at, "cpu": self.cpu(),
                "memory": self.memory(), "storage": storage, "forecast": fc, "health": health}
