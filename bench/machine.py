"""Where a run's CPU went, over the whole machine, in µs per request (user + system time, from
psutil): the app server (the processes listening on its port, and their children), PostgreSQL
and Redis (every process of theirs), the load generator (wrk: the benchmark's own children),
the kernel's softirq time, the rest of the machine, and the share left idle."""

import resource
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

PARTS = ("app", "postgres", "redis", "wrk", "softirq", "other", "idle")


def processes(app_port: int) -> dict[int, tuple[str, float]]:
    """{pid: (part, CPU seconds so far)} of the app server's, PostgreSQL's and Redis's processes."""
    app = {process.pid for process in psutil.process_iter() if listens(process, app_port)}
    found = {}
    for process in psutil.process_iter(["name", "ppid", "cpu_times"]):
        name, times = process.info["name"] or "", process.info["cpu_times"]
        if process.pid in app or process.info["ppid"] in app:
            part = "app"
        elif name.startswith("postgres"):
            part = "postgres"
        elif name.startswith("redis-server"):
            part = "redis"
        else:
            continue
        if times is not None:  # None: the process ended meanwhile
            found[process.pid] = (part, times.user + times.system)
    return found


def listens(process: psutil.Process, port: int) -> bool:
    """Whether `process` holds a socket listening on `port` (gunicorn's master and workers do:
    psutil.net_connections() names one process a socket, not all that hold it)."""
    try:
        connections = process.net_connections("tcp")
    except psutil.Error:
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections)


def machine() -> dict[str, float]:
    """The machine's counters and the benchmark's waited-for children (wrk), in CPU seconds."""
    children, cpu = resource.getrusage(resource.RUSAGE_CHILDREN), psutil.cpu_times()
    return {
        "wrk": children.ru_utime + children.ru_stime,
        "idle": cpu.idle + cpu.iowait,
        "softirq": cpu.irq + cpu.softirq,
        "total": sum(cpu[:8]),  # user nice system idle iowait irq softirq steal
    }


@contextmanager
def accounted(app_port: int) -> Iterator[dict[str, float]]:
    """Yield a dict that holds, once the block has run, the CPU seconds each part used in it.

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
            seconds - before.get(pid, (part, 0))[1]
            for pid, (kind, seconds) in after.items()
            if kind == part
        )
    used["other"] = max(0.0, used["total"] - sum(used[p] for p in PARTS if p != "other"))
    result.update(used)


def per_request(seconds: dict[str, float], requests: int) -> dict[str, float]:
    """µs of CPU per request for each part, and the share of the machine left idle."""
    shares = {part: seconds[part] * 1e6 / max(requests, 1) for part in PARTS}
    shares["idle_share"] = seconds["idle"] / seconds["total"] if seconds["total"] else 0.0
    return shares
