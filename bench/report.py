"""BENCHMARKS.md and docs/benchmarks.png from the results of bench/bench.py."""

import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "PEER_URL=http://127.0.0.1:9000/notes make bench"
# The part bench/balancer.py writes; a run of the service alone keeps it.
BALANCER_START, BALANCER_END = "<!-- balancer -->", "<!-- /balancer -->"


def median(runs, key):
    return statistics.median(run[key] for run in runs) if runs else None


def round_ratios(runs):
    pairs = zip(runs["service"], runs["peer"], strict=True)
    return [s["rps"] / p["rps"] for s, p in pairs]


def ratio(runs):
    return statistics.median(round_ratios(runs)) if runs["peer"] else None


def table(results):
    lines = [
        "| scenario | req/s | p50 ms | p99 ms | non-2xx | socket errors "
        "| peer req/s | peer p50 ms | peer p99 ms | paired ratio (each round) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in results.items():
        service, peer = runs["service"], runs["peer"]
        cells = [
            name,
            f"{median(service, 'rps'):,.0f}",
            f"{median(service, 'p50_ms'):.2f}",
            f"{median(service, 'p99_ms'):.2f}",
            str(sum(run["non_2xx"] for run in service)),
            str(sum(run["socket_errors"] for run in service)),
        ]
        if peer:
            cells += [
                f"{median(peer, 'rps'):,.0f}",
                f"{median(peer, 'p50_ms'):.2f}",
                f"{median(peer, 'p99_ms'):.2f}",
                # Each round's ratio too: the spread shows how noisy the machine was.
                f"**{ratio(runs):.2f}x** ({', '.join(f'{r:.2f}' for r in round_ratios(runs))})",
            ]
        else:
            cells += ["–"] * 4
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine_table(results):
    """Whole-machine CPU per request, by part, medians over the rounds: service | peer."""
    parts = ["app", "postgres", "redis", "wrk", "softirq", "other", "idle"]
    lines = [
        "| scenario | side | " + " | ".join(f"{p} µs" for p in parts) + " | busy µs | idle share |",
        "|---|---|" + "---:|" * (len(parts) + 2),
    ]
    for name, runs in results.items():
        for side in ("service", "peer"):
            cpu = [run["cpu_us"] for run in runs[side] if "cpu_us" in run]
            if not cpu:
                continue
            cells = [statistics.median(c[p] for c in cpu) for p in parts]
            busy = statistics.median(sum(c[p] for p in parts if p != "idle") for c in cpu)
            idle = statistics.median(c["idle_share"] for c in cpu)
            numbers = " | ".join(f"{v:,.0f}" for v in cells)
            lines.append(f"| {name} | {side} | {numbers} | {busy:,.0f} | {idle:.0%} |")
    return "\n".join(lines)


def chart(report, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    sizes = list(report["sizes"])
    figure, axes = pyplot.subplots(1, len(sizes), figsize=(7 * len(sizes), 5), squeeze=False)
    for axis, size in zip(axes[0], sizes, strict=True):
        results = report["sizes"][size]
        names = list(results)
        service = [median(results[n]["service"], "rps") for n in names]
        peer = [median(results[n]["peer"], "rps") or 0 for n in names]
        positions = range(len(names))
        axis.bar([p - 0.2 for p in positions], service, 0.4, label="this service")
        if any(peer):
            axis.bar([p + 0.2 for p in positions], peer, 0.4, label="original design (peer)")
        axis.set_xticks(list(positions), names, rotation=35, ha="right")
        axis.set_ylabel("requests per second (median)")
        axis.set_title(f"{int(size):,} notes")
        axis.legend()
    figure.tight_layout()
    path.parent.mkdir(exist_ok=True)
    figure.savefig(path, dpi=110)


def write_report(report, notes=""):
    machine = report["machine"]
    parts = [
        "# Benchmarks",
        "",
        f"Made by `{COMMAND}` (without `PEER_URL` for the service alone).",
        f"Machine: {machine['cores']} cores ({machine['cpu']}), Python {machine['python']}, "
        f"PostgreSQL {machine['postgres']}. wrk {machine['wrk']}; with a peer, "
        f"{machine['rounds']} rounds alternating service and peer, ratios are the median "
        "of the per-round ratios (service ÷ peer).",
        "",
        "![requests per second](docs/benchmarks.png)",
        "",
    ]
    for size, results in report["sizes"].items():
        memory = "; ".join(
            f"RSS {m['rss']:.0f}, PSS {m['pss']:.0f}, USS {m['uss']:.0f}"
            for m in report["memory_mib"][size]
        )
        parts += [
            f"## {int(size):,} notes",
            "",
            table(results),
            "",
            f"Worker memory after the run, MiB (USS: what one more worker adds): {memory}.",
            "",
            "Where the machine's CPU went, µs per request (medians of the rounds): the app "
            "server, PostgreSQL, Redis, wrk, the kernel's softirq time, the rest, and idle.",
            "",
            machine_table(results),
            "",
        ]
        if size in report.get("seed_seconds", {}):
            seconds = report["seed_seconds"][size]
            seeded = f"`seed --fake {int(size):,}` took {seconds:.1f} s, Django's start included."
            parts += [seeded, ""]
    chart(report, ROOT / "docs" / "benchmarks.png")
    notes_file = ROOT / "bench" / "NOTES.md"
    if notes_file.exists():
        parts += [notes_file.read_text()]
    path = ROOT / "BENCHMARKS.md"
    old = path.read_text() if path.exists() else ""
    if BALANCER_START in old:
        block = old[old.index(BALANCER_START) : old.index(BALANCER_END) + len(BALANCER_END)]
        parts += ["", block, ""]
    path.write_text("\n".join(parts))


if __name__ == "__main__":
    # BENCHMARKS.md again from the last run's results, e.g. after bench/NOTES.md changed.
    import json

    write_report(json.loads((ROOT / "bench" / "results.json").read_text()))
