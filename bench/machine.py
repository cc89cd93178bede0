"""Where a run's CPU went, over the whole machine: per part, in µs of CPU per request.

Parts: the app server (the processes listening on its port, and their children),
PostgreSQL and Redis (every process of theirs, background writers included), the
load generator (wrk: the benchmark's own children), the kernel's softirq time, the
rest of the machine, and the share left idle. From /proc: utime + stime of each
process, and the machine's own counters in /proc/stat; USER_HZ ticks.
"""

import os
import resource
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

TICK_US = 1_000_000 / os.sysconf("SC_CLK_TCK")
PARTS = ("app", "postgres", "redis", "wrk", "softirq", "other", "idle")


def listeners(port: int) -> set[int]:
    """The processes holding the listening socket on `port` (a master and its workers)."""
    out = subprocess.run(
        ["ss", "-tlnpH", f"sport = :{port}"], capture_output=True, text=True
    ).stdout
    return {int(part.split("=")[1]) for part in out.replace(",", " ").split() if "pid=" in part}


def process_ticks(pid: int) -> tuple[str, int, int]:
    """(command name, parent pid, utime + stime) of one process."""
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()
    return name, int(fields[1]), int(fields[11]) + int(fields[12])


def processes(app_port: int) -> dict[int, tuple[str, int]]:
    """{pid: (part, ticks used so far)} of the app server's, PostgreSQL's and Redis's processes."""
    app = listeners(app_port)
    found = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            name, parent, used = process_ticks(int(entry))
        except (OSError, ValueError, IndexError):
            continue
        if int(entry) in app or parent in app:
            found[int(entry)] = ("app", used)
        elif name.startswith("postgres"):
            found[int(entry)] = ("postgres", used)
        elif name.startswith("redis-server"):
            found[int(entry)] = ("redis", used)
    return found


def machine() -> dict[str, float]:
    """The machine's counters (/proc/stat) and the benchmark's waited-for children (wrk)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open("/proc/stat") as stat:
        cpu = [int(v) for v in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return {
        "wrk": (children.ru_utime + children.ru_stime) * 1_000_000 / TICK_US,
        "idle": cpu[3] + cpu[4],
        "softirq": cpu[5] + cpu[6],
        "total": sum(cpu[:8]),
    }


@contextmanager
def accounted(app_port: int) -> Iterator[dict[str, float]]:
    """Yield a dict that holds, once the block has run, the ticks each part used in it.

    A process that starts meanwhile counts from zero; one that ends meanwhile is
    lost to "other" (PostgreSQL backends of a run outlive it).
    """
    result: dict[str, float] = {}
    before, machine_before = processes(app_port), machine()
    yield result
    after, machine_after = processes(app_port), machine()
    used = {part: machine_after[part] - machine_before[part] for part in machine_after}
    for part in ("app", "postgres", "redis"):
        used[part] = sum(
            ticks - before.get(pid, (part, 0))[1]
            for pid, (kind, ticks) in after.items()
            if kind == part
        )
    named = sum(used[p] for p in PARTS if p != "other")
    used["other"] = max(0.0, used["total"] - named)
    result.update(used)


def per_request(ticks: dict[str, float], requests: int) -> dict[str, float]:
    """µs of CPU per request for each part, and the share of the machine left idle."""
    shares = {part: ticks[part] * TICK_US / max(requests, 1) for part in PARTS}
    shares["idle_share"] = ticks["idle"] / ticks["total"] if ticks["total"] else 0.0
    return shares
