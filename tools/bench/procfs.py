"""What processes use, read from /proc (Linux): peak memory and CPU time. No psutil needed."""

import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def peak_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM) in MiB; 0 when it has gone."""
    try:
        status = (PROC / str(pid) / "status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far; 0 when it has gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, all cores."""
    first = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    values = [int(value) for value in first[:8]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def pids_named(name: str, cmdline_part: str = "") -> list[int]:
    """Processes whose command name is `name` and whose command line contains `cmdline_part`:
    how the benchmark finds the shared Kafka broker (java) and PostgreSQL's processes."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != name:
                continue
            if cmdline_part and cmdline_part not in (entry / "cmdline").read_text(errors="replace"):
                continue
        except OSError:
            continue
        found.append(int(entry.name))
    return found


@dataclass
class CpuMeter:
    """CPU time of named groups of processes, and of the machine, from `start` to `stop`."""

    groups: dict[str, list[int]]

    def start(self) -> None:
        self.began = time.perf_counter()
        self.seconds = {name: self.used(name) for name in self.groups}
        self.ticks = machine_ticks()

    def used(self, name: str) -> float:
        return sum(cpu_seconds(pid) for pid in self.groups[name])

    def stop(self) -> tuple[dict[str, float], float, float]:
        """CPU seconds per group, the wall seconds metered, and the machine's busy share in %
        of all cores."""
        wall = time.perf_counter() - self.began
        used = {name: self.used(name) - self.seconds[name] for name in self.groups}
        busy, total = machine_ticks()
        machine = 100 * (busy - self.ticks[0]) / max(total - self.ticks[1], 1)
        return used, wall, machine
