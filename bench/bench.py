"""make bench: the service under gunicorn, driven by wrk, side by side with a peer if given.

Environment: PEER_URL (the peer's collection URL, e.g. http://127.0.0.1:9000/notes),
PEER_DATABASE_URL (its database, reset and filled with the same notes), BENCH_SIZES (default
1000,1000000), BENCH_DURATION and BENCH_WARMUP (seconds), BENCH_ROUNDS (paired rounds with a
peer), BENCH_CONNECTIONS (32), BENCH_SCENARIOS (names, e.g. "get one note,create (POST)").
Writes bench/results.json and BENCHMARKS.md.

With BENCH_URL (e.g. the cluster's balancer, http://127.0.0.1:8080), a running deployment
is loaded instead, side by side with BENCH_DIRECT_URL if given (the same service direct, e.g.
http://127.0.0.1:8001), on its database BENCH_DATABASE_URL (dropped and filled for each size).
Writes bench/results-balancer.json and the "Through the balancer" part of BENCHMARKS.md.
"""

import json
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import requests

from bench.database import SERVER, prepare_database
from bench.machine import accounted, per_request
from bench.report import ratio, write_balancer, write_report
from harness.server import ROOT, answers, environment, gunicorn, memory_mib
from harness.wait import until

setting = os.environ.get
PEER_URL = setting("PEER_URL", "").rstrip("/")
PEER_DATABASE_URL = setting("PEER_DATABASE_URL", f"{SERVER}/notes_original")
URL, DIRECT_URL = setting("BENCH_URL", "").rstrip("/"), setting("BENCH_DIRECT_URL", "").rstrip("/")
SIZES = [int(n) for n in setting("BENCH_SIZES", "1000,1000000").split(",")]
DURATION = int(setting("BENCH_DURATION", "10"))
WARMUP = int(setting("BENCH_WARMUP", "3"))
ROUNDS = int(setting("BENCH_ROUNDS", "3"))
CONNECTIONS = int(setting("BENCH_CONNECTIONS", "32"))
NOTE_BODY = '{"content": "Benchmark note {n}, written by wrk"}'
ONLY = [name for name in setting("BENCH_SCENARIOS", "").split(",") if name]


@dataclass
class Scenario:
    name: str
    method: str
    path: str
    body: str = ""
    auth: bool = False
    peer_path: str | None = None  # the same request on the peer, if it has one
    peer_max_size: int | None = None  # the peer's list returns every row: small tables only


def scenarios(deep_page):
    # Reads first, then writes that keep the row count, then those that grow it.
    return [
        Scenario("get one note", "GET", "/api/notes/{id}/", peer_path="/{id}"),
        Scenario("list, first page", "GET", "/api/notes/", peer_path="", peer_max_size=1000),
        Scenario("list, deep page", "GET", deep_page),
        Scenario("search a word", "GET", "/api/notes/?search=simplify"),
        Scenario("replace (PUT)", "PUT", "/api/notes/{id}/", NOTE_BODY, True, "/{id}"),
        Scenario("update (PATCH)", "PATCH", "/api/notes/{id}/", NOTE_BODY, True),
        Scenario("send", "POST", "/api/notes/{id}/send/", auth=True),
        Scenario("send-next", "POST", "/api/notes/send-next/", auth=True),
        Scenario("create (POST)", "POST", "/api/notes/", NOTE_BODY, True, ""),
    ]


def prepare_peer(env):
    """The peer's table, emptied and filled with the same notes; its id range."""
    columns = "content, times_sent, created_at, updated_at"
    copy_out = f"COPY (SELECT {columns} FROM notes ORDER BY id) TO STDOUT"
    with psycopg.connect(env["DATABASE_URL"]) as source, psycopg.connect(PEER_DATABASE_URL) as sink:
        sink.execute("TRUNCATE notes RESTART IDENTITY")
        with (
            source.cursor().copy(copy_out) as out,
            sink.cursor().copy(f"COPY notes ({columns}) FROM STDIN") as into,
        ):
            for block in out:
                into.write(block)
        sink.execute("ANALYZE notes")
        return sink.execute("SELECT min(id), max(id) FROM notes").fetchone()


def on_peer(scenario, size):
    """The scenario on PEER_URL, as (base URL, path); None where the peer has no such request."""
    if scenario.peer_path is None or size > (scenario.peer_max_size or size):
        return None
    url = urlsplit(PEER_URL)
    return f"{url.scheme}://{url.netloc}", url.path + scenario.peer_path


def deep_page(url, size):
    """The path of a default-sized page a tenth of the way through a cursor walk."""
    stride = 1000 if size >= 100_000 else 100
    link = f"{url}/api/notes/?page_size={stride}"
    for _ in range(max(1, size // stride // 10)):
        link = requests.get(link).json()["links"]["next"]
    # The cursor holds a position, not a page size: the same page, default size.
    query = "&".join(p for p in urlsplit(link).query.split("&") if p.startswith("cursor="))
    return f"{urlsplit(link).path}?{query}"


def wrk(base_url, scenario, path, token, ids, seconds):
    env = {**os.environ, "BENCH_METHOD": scenario.method, "BENCH_PATH": path}
    env.update(BENCH_BODY=scenario.body, BENCH_TOKEN=token if scenario.auth else "")
    env.update(BENCH_ID_MIN=str(ids[0]), BENCH_ID_MAX=str(ids[1]))
    command = [
        "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
        "-s", str(ROOT / "bench" / "scenario.lua"), base_url,
    ]  # fmt: skip
    with accounted(urlsplit(base_url).port or 80) as used:
        output = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    result = json.loads(output.stdout.strip().splitlines()[-1])
    result["cpu_us"] = per_request(used, result["requests"])
    return result


def measure(size, service, token, ids, deep, peer=None, peer_ids=None):
    """Each scenario on `service` (a base URL) and, alternating run by run so that drift hits
    both alike, on the peer: `peer(scenario, size)` gives its (base URL, path), or None."""
    results = {}
    for scenario in scenarios(deep):
        if ONLY and scenario.name not in ONLY:
            continue
        sides = {"service": (service, scenario.path, ids)}
        if peer and (elsewhere := peer(scenario, size)):
            sides["peer"] = (*elsewhere, peer_ids or ids)
        for url, path, side_ids in sides.values():
            wrk(url, scenario, path, token, side_ids, WARMUP)
        runs = {"service": [], "peer": []}
        for _ in range(ROUNDS if len(sides) > 1 else 1):
            for side, (url, path, side_ids) in sides.items():
                runs[side].append(wrk(url, scenario, path, token, side_ids, DURATION))
        results[scenario.name] = runs
        rps = statistics.median(run["rps"] for run in runs["service"])
        paired = f"   ratio {ratio(runs):.2f}x" if runs["peer"] else ""
        print(f"{size:>9,} {scenario.name:<18} {rps:9.0f} req/s{paired}", flush=True)
    return results


def main():
    if URL:
        return through_the_balancer()
    report = {"sizes": {}, "memory_mib": {}, "seed_seconds": {}, "machine": machine()}
    report["peer"] = PEER_URL or None
    for size in SIZES:
        env = environment(
            DATABASE_URL=f"{SERVER}/{setting('BENCH_DATABASE', 'notes_bench')}",
            PORT=setting("BENCH_PORT", "8100"),
        )
        report["seed_seconds"][size], token, *ids = prepare_database(size, env)
        peer_ids = prepare_peer(env) if PEER_URL else None
        with gunicorn(env, ROOT / "bench" / "gunicorn.log", ready="/health/ready") as server:
            deep = deep_page(server.url, size)
            peer = on_peer if PEER_URL else None
            report["sizes"][size] = measure(size, server.url, token, ids, deep, peer, peer_ids)
            report["memory_mib"][size] = list(memory_mib(server.workers()).values())
    (ROOT / "bench" / "results.json").write_text(json.dumps(report, indent=2))
    write_report(report)


def through_the_balancer():
    if not setting("BENCH_DATABASE_URL"):
        raise SystemExit("BENCH_URL needs BENCH_DATABASE_URL, the deployment's database.")
    report = {"url": URL, "direct_url": DIRECT_URL or None, "machine": machine(), "sizes": {}}
    for size in SIZES:
        _, token, *ids = prepare_database(
            size, environment(DATABASE_URL=setting("BENCH_DATABASE_URL"))
        )
        for url in filter(None, (URL, DIRECT_URL)):
            if not until(lambda url=url: answers(f"{url}/health/ready"), 180, step=0.5):
                raise SystemExit(f"{url} did not become ready")
        direct = (lambda scenario, size: (DIRECT_URL, scenario.path)) if DIRECT_URL else None
        report["sizes"][size] = measure(size, URL, token, ids, deep_page(URL, size), direct)
    (ROOT / "bench" / "results-balancer.json").write_text(json.dumps(report, indent=2))
    write_balancer(report)


def machine():
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    with psycopg.connect(f"{SERVER}/postgres") as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "cpu": models[0] if models else platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "postgres": postgres,
        "wrk": f"-t1 -c{CONNECTIONS}, {WARMUP} s warm-up, {DURATION} s measured",
        "rounds": ROUNDS,
    }


if __name__ == "__main__":
    main()
