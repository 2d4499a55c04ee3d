"""A Raspberry Pi's budget on this machine (`--pi-budget`): one CPU and 512 MiB for Hearth.

A cgroup made for the run, on cgroup v2 (`cpu.max`, `memory.max`) or v1 (`cpu.cfs_quota_us`,
`memory.limit_in_bytes`), whichever the machine has; the server's process is moved into it as it
starts, and the cgroup is removed at the end. Root is needed to make cgroups: without it, the
run stops at once with the reason, rather than measuring something else.
"""
from __future__ import annotations

import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


class PiBudget:
    def __init__(self, cpus: float = 1.0, memory_bytes: int = 512 * 1024 * 1024, name: str = "hearth-bench-pi"):
        self.cpus = cpus
        self.memory_bytes = memory_bytes
        self.name = f"{name}-{os.getpid()}"
        self.dirs: list[Path] = []
        self.procs_files: list[Path] = []

    def describe(self) -> str:
        return f"{self.cpus:g} CPU, {self.memory_bytes // (1024 * 1024)} MiB"

    def create(self) -> None:
        period = 100_000
        quota = int(self.cpus * period)
        if (CGROUP_ROOT / "cgroup.controllers").exists():  # v2, unified at the root
            d = CGROUP_ROOT / self.name
            d.mkdir()
            self.dirs.append(d)
            (d / "cpu.max").write_text(f"{quota} {period}")
            (d / "memory.max").write_text(str(self.memory_bytes))
            self.procs_files.append(d / "cgroup.procs")
            return
        cpu, memory = CGROUP_ROOT / "cpu", CGROUP_ROOT / "memory"
        if not (cpu.is_dir() and memory.is_dir()):
            raise SystemExit("--pi-budget: no cgroup v2 and no v1 cpu and memory controllers here")
        for base in (cpu, memory):
            d = base / self.name
            d.mkdir()
            self.dirs.append(d)
            self.procs_files.append(d / "cgroup.procs")
        (cpu / self.name / "cpu.cfs_period_us").write_text(str(period))
        (cpu / self.name / "cpu.cfs_quota_us").write_text(str(quota))
        (memory / self.name / "memory.limit_in_bytes").write_text(str(self.memory_bytes))

    def add(self, pid: int) -> None:
        for f in self.procs_files:
            f.write_text(str(pid))

    def remove(self) -> None:
        for d in self.dirs:
            try:
                d.rmdir()  # the processes have ended (a cgroup with members cannot be removed)
            except OSError:
                pass
        self.dirs.clear()
        self.procs_files.clear()
