"""BENCHMARKS.md and docs/benchmarks.png from the results of bench/bench.py.

The generated tables, then bench/NOTES.md (what the figures mean, and the measurements
no run writes), then the part a run through the balancer writes, kept by a run without.
"""

import statistics
from pathlib import Path

from matplotlib import pyplot

from bench.machine import PARTS
from harness.server import OUT_OF_REACH

ROOT = Path(__file__).resolve().parent.parent
PATH = ROOT / "BENCHMARKS.md"
COMMAND = "PEER_URL=http://127.0.0.1:9000/notes make bench"
BALANCER_COMMAND = (
    f"NOTES_THROTTLE_ANON={OUT_OF_REACH} NOTES_THROTTLE_USER={OUT_OF_REACH} "
    "CLUSTER_APP_PORTS=8001 make cluster, then BENCH_URL=http://127.0.0.1:8080 "
    "BENCH_DIRECT_URL=http://127.0.0.1:8001 "
    "BENCH_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5440/notes make bench"
)
BALANCER_START, BALANCER_END = "<!-- balancer -->", "<!-- /balancer -->"
# The site's page docs/benchmarks.md shows the chart itself, then includes this file from here.
SITE_START = "<!-- --8<-- [start:figures] the site's docs/benchmarks.md includes from here -->"
SIDES = {"service": ("this service", -0.2), "peer": ("original design (peer)", 0.2)}


def median(runs, key):
    return statistics.median(run[key] for run in runs) if runs else None


def medians(runs):
    return [
        f"{median(runs, 'rps'):,.0f}",
        *(f"{median(runs, k):.2f}" for k in ("p50_ms", "p99_ms")),
    ]


def round_ratios(runs):
    pairs = zip(runs["service"], runs["peer"], strict=True)
    return [s["rps"] / p["rps"] for s, p in pairs]


def ratio(runs):
    return statistics.median(round_ratios(runs)) if runs["peer"] else None


def table(results, other="peer"):
    lines = [
        f"| scenario | req/s | p50 ms | p99 ms | non-2xx | socket errors | {other} req/s "
        f"| {other} p50 ms | {other} p99 ms | paired ratio (each round) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in results.items():
        service, peer = runs["service"], runs["peer"]
        errors = [str(sum(run[key] for run in service)) for key in ("non_2xx", "socket_errors")]
        cells = [name, *medians(service), *errors]
        if peer:
            # Each round's ratio too: the spread shows how noisy the machine was.
            rounds = ", ".join(f"{r:.2f}" for r in round_ratios(runs))
            cells += [*medians(peer), f"**{ratio(runs):.2f}x** ({rounds})"]
        else:
            cells += ["–"] * 4
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine_table(results):
    """Whole-machine CPU per request, by part, medians over the rounds: service | peer."""
    lines = [
        "| scenario | side | " + " | ".join(f"{p} µs" for p in PARTS) + " | busy µs | idle share |",
        "|---|---|" + "---:|" * (len(PARTS) + 2),
    ]
    for name, runs in results.items():
        for side in ("service", "peer"):
            cpu = [run["cpu_us"] for run in runs[side]]
            if not cpu:
                continue
            numbers = " | ".join(f"{statistics.median(c[p] for c in cpu):,.0f}" for p in PARTS)
            busy = statistics.median(sum(c[p] for p in PARTS if p != "idle") for c in cpu)
            idle = statistics.median(c["idle_share"] for c in cpu)
            lines.append(f"| {name} | {side} | {numbers} | {busy:,.0f} | {idle:.0%} |")
    return "\n".join(lines)


def chart(report, path):
    count = len(report["sizes"])
    figure, axes = pyplot.subplots(1, count, figsize=(7 * count, 5), squeeze=False)
    for axis, (size, results) in zip(axes[0], report["sizes"].items(), strict=True):
        for side, (label, offset) in SIDES.items():
            if any(rps := [median(runs[side], "rps") or 0 for runs in results.values()]):
                axis.bar([p + offset for p in range(len(rps))], rps, 0.4, label=label)
        axis.set_xticks(range(len(results)), list(results), rotation=35, ha="right")
        axis.set_ylabel("requests per second (median)")
        axis.set_title(f"{int(size):,} notes")
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def write_report(report):
    machine = report["machine"]
    parts = [
        "# Benchmarks",
        "",
        "![requests per second](docs/benchmarks.png)",
        "",
        SITE_START,
        f"Made by `{COMMAND}` (without `PEER_URL` for the service alone).",
        f"Machine: {machine['cores']} cores ({machine['cpu']}), Python {machine['python']}, "
        f"PostgreSQL {machine['postgres']}. wrk {machine['wrk']}; with a peer, "
        f"{machine['rounds']} rounds alternating service and peer, ratios are the median "
        "of the per-round ratios (service ÷ peer).",
        "",
    ]
    for size, results in report["sizes"].items():
        memory = "; ".join(
            f"RSS {m['rss']:.0f}, PSS {m['pss']:.0f}, USS {m['uss']:.0f}"
            for m in report["memory_mib"][size]
        )
        parts += [
            f"## {int(size):,} notes\n\n{table(results)}\n",
            f"Worker memory after the run, MiB (USS: what one more worker adds): {memory}.\n",
            "Where the machine's CPU went, µs per request (medians of the rounds): the app "
            "server, PostgreSQL, Redis, wrk, the kernel's softirq time, the rest, and idle.\n",
            f"{machine_table(results)}\n",
            f"`seed --fake {int(size):,}` took {report['seed_seconds'][size]:.1f} s, "
            "Django's start included.\n",
        ]
    chart(report, ROOT / "docs" / "benchmarks.png")
    write(main="\n".join(parts) + "\n" + (ROOT / "bench" / "NOTES.md").read_text())


def write_balancer(report):
    """The "Through the balancer" part of BENCHMARKS.md, in place of the last run's."""
    parts = [
        BALANCER_START,
        "## Through the balancer\n",
        f"Made by `{BALANCER_COMMAND}`: {report['url']} against "
        f"{report['direct_url'] or 'nothing'}, alternating, {report['machine']['rounds']} "
        "round(s); ratios are through ÷ direct.\n",
    ]
    for size, results in report["sizes"].items():
        parts += [f"### {int(size):,} notes\n\n{table(results, other='direct')}\n"]
    write(balancer="\n".join(parts) + "\n" + BALANCER_END)


def write(main=None, balancer=None):
    """BENCHMARKS.md: a run's tables and bench/NOTES.md, then the balancer's part; each kept
    from the file as it was unless given."""
    old = PATH.read_text() if PATH.exists() else "# Benchmarks\n"
    cut = old.find(BALANCER_START) if BALANCER_START in old else len(old)
    main, balancer = main or old[:cut], balancer or old[cut:]
    PATH.write_text(f"{main.rstrip()}\n\n{balancer.strip()}\n".rstrip() + "\n")


if __name__ == "__main__":
    # BENCHMARKS.md again from the last run's results, e.g. after bench/NOTES.md changed.
    import json

    write_report(json.loads((ROOT / "bench" / "results.json").read_text()))
