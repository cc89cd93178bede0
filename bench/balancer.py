"""make bench through a running deployment (BENCH_URL), side by side with the same service direct.

Environment: BENCH_URL (the base URL to load, e.g. the cluster's balancer
http://127.0.0.1:8080), BENCH_DIRECT_URL (optional: the same service without the
balancer, e.g. its one instance http://127.0.0.1:8001), BENCH_DATABASE_URL (the
deployment's database, reached directly: dropped and filled for each size), and
bench.py's BENCH_SIZES, BENCH_DURATION, BENCH_WARMUP, BENCH_ROUNDS, BENCH_CONNECTIONS.
The deployment must let the load through: start it with rate limits no run reaches.
Writes bench/results-balancer.json and the "Through the balancer" part of BENCHMARKS.md.
"""

import json
import os
import secrets

from bench.bench import DURATION, ROUNDS, SIZES, WARMUP, deep_page, machine, scenarios, wrk
from bench.database import prepare_database
from bench.report import BALANCER_END as END
from bench.report import BALANCER_START as START
from bench.report import median, ratio, round_ratios
from harness.server import ROOT, answers
from harness.wait import until

URL = os.environ.get("BENCH_URL", "").rstrip("/")
DIRECT_URL = os.environ.get("BENCH_DIRECT_URL", "").rstrip("/")
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "")
COMMAND = (
    "NOTES_THROTTLE_ANON=100000000/minute NOTES_THROTTLE_USER=100000000/minute "
    "CLUSTER_APP_PORTS=8001 make cluster, then BENCH_URL=http://127.0.0.1:8080 "
    "BENCH_DIRECT_URL=http://127.0.0.1:8001 "
    "BENCH_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5440/notes make bench"
)


def wait_ready(url, timeout=180):
    if not until(lambda: answers(f"{url}/health/ready"), timeout, step=0.5):
        raise SystemExit(f"{url} did not become ready")


def measure(size, token, ids, deep):
    """Each scenario through BENCH_URL ("service") and, alternating, BENCH_DIRECT_URL ("peer")."""
    targets = [("service", URL)] + ([("peer", DIRECT_URL)] if DIRECT_URL else [])
    results = {}
    for scenario in scenarios(deep):
        runs = {"service": [], "peer": []}
        for _, url in targets:
            wrk(url, scenario, scenario.path, token, ids, WARMUP)
        for _ in range(ROUNDS if DIRECT_URL else 1):
            for side, url in targets:
                runs[side].append(wrk(url, scenario, scenario.path, token, ids, DURATION))
        results[scenario.name] = runs
        rps = median(runs["service"], "rps")
        paired = f"   ratio {ratio(runs):.2f}x" if DIRECT_URL else ""
        print(f"{size:>9,} {scenario.name:<18} {rps:9.0f} req/s{paired}", flush=True)
    return results


def table(results):
    lines = [
        "| scenario | through the balancer req/s | p50 ms | p99 ms | errors "
        "| direct req/s | p50 ms | p99 ms | ratio (each round) | p50 added, ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in results.items():
        through, direct = runs["service"], runs["peer"]
        errors = sum(run["non_2xx"] + run["socket_errors"] for run in through + direct)
        cells = [name, f"{median(through, 'rps'):,.0f}", f"{median(through, 'p50_ms'):.2f}"]
        cells += [f"{median(through, 'p99_ms'):.2f}", str(errors)]
        if direct:
            rounds = ", ".join(f"{r:.2f}" for r in round_ratios(runs))
            added = median(through, "p50_ms") - median(direct, "p50_ms")
            cells += [f"{median(direct, 'rps'):,.0f}", f"{median(direct, 'p50_ms'):.2f}"]
            cells += [f"{median(direct, 'p99_ms'):.2f}", f"**{ratio(runs):.2f}x** ({rounds})"]
            cells += [f"{added:+.2f}"]
        else:
            cells += ["–"] * 5
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(report):
    parts = [
        "## Through the balancer",
        "",
        f"Made by `{COMMAND}`: {report['url']} against {report['direct_url'] or 'nothing'}, "
        f"alternating, {report['machine']['rounds']} round(s); ratios are through ÷ direct.",
        "",
    ]
    for size, results in report["sizes"].items():
        parts += [f"### {int(size):,} notes", "", table(results), ""]
    return "\n".join(parts)


def write(report):
    (ROOT / "bench" / "results-balancer.json").write_text(json.dumps(report, indent=2))
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if START in text:
        text = text[: text.index(START)] + text[text.index(END) + len(END) :].lstrip("\n")
    path.write_text(f"{text.rstrip()}\n\n{START}\n{section(report)}\n{END}\n")


def main():
    if not DATABASE_URL:
        raise SystemExit("BENCH_URL needs BENCH_DATABASE_URL, the deployment's database.")
    report = {"url": URL, "direct_url": DIRECT_URL or None, "machine": machine(), "sizes": {}}
    for size in SIZES:
        env = {
            **os.environ,
            "DATABASE_URL": DATABASE_URL,
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(16),
        }
        _, token, *ids = prepare_database(size, env)
        for url in filter(None, (URL, DIRECT_URL)):
            wait_ready(url)
        report["sizes"][size] = measure(size, token, ids, deep_page(URL, size))
    write(report)


if __name__ == "__main__":
    main()
