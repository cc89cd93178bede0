"""make bench: the service under gunicorn, driven by wrk, side by side with a peer if given.

Environment: PEER_URL (the peer's collection URL, e.g. http://127.0.0.1:9000/notes),
PEER_DATABASE_URL (its database, reset and filled with the same notes),
BENCH_SIZES (default 1000,1000000), BENCH_DURATION and BENCH_WARMUP (seconds),
BENCH_ROUNDS (paired rounds with a peer), BENCH_CONNECTIONS (default 32),
BENCH_SCENARIOS (comma-separated names, e.g. "get one note,create (POST)"; default all).
With BENCH_URL, a running deployment is loaded instead (bench/balancer.py).
"""

import json
import os
import platform
import secrets
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import requests

from bench.database import SERVER, prepare_database
from bench.machine import accounted, per_request
from bench.report import ratio, write_report
from harness.server import ROOT, gunicorn

# gunicorn.conf.py's own default, which the harness needs to know to wait for every worker.
WORKERS = (os.cpu_count() or 1) * 2
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "notes_bench")
PEER_URL = os.environ.get("PEER_URL", "").rstrip("/")
PEER_DATABASE_URL = os.environ.get("PEER_DATABASE_URL", f"{SERVER}/notes_original")
SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "1000,1000000").split(",")]
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
PORT = int(os.environ.get("BENCH_PORT", "8100"))
NOTE_BODY = '{"content": "Benchmark note {n}, written by wrk"}'
ONLY = [name for name in os.environ.get("BENCH_SCENARIOS", "").split(",") if name]


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
    """The peer's table, emptied and filled with the same notes."""
    columns = "content, times_sent, created_at, updated_at"
    with (
        psycopg.connect(env["DATABASE_URL"]) as source,
        psycopg.connect(PEER_DATABASE_URL) as sink,
    ):
        sink.execute("TRUNCATE notes RESTART IDENTITY")
        with (
            source.cursor().copy(
                f"COPY (SELECT {columns} FROM notes ORDER BY id) TO STDOUT"
            ) as out,
            sink.cursor().copy(f"COPY notes ({columns}) FROM STDIN") as into,
        ):
            for block in out:
                into.write(block)
        sink.execute("ANALYZE notes")
        low, high = sink.execute("SELECT min(id), max(id) FROM notes").fetchone()
    return low, high


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
    env = {
        **os.environ,
        "BENCH_METHOD": scenario.method,
        "BENCH_PATH": path,
        "BENCH_BODY": scenario.body,
        "BENCH_TOKEN": token if scenario.auth else "",
        "BENCH_ID_MIN": str(ids[0]),
        "BENCH_ID_MAX": str(ids[1]),
    }
    command = [
        "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
        "-s", str(ROOT / "bench" / "scenario.lua"), base_url,
    ]  # fmt: skip
    with accounted(urlsplit(base_url).port or 80) as ticks:
        output = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    result = json.loads(output.stdout.strip().splitlines()[-1])
    result["cpu_us"] = per_request(ticks, result["requests"])
    return result


def worker_memory_mib(pids):
    """Per worker: RSS, PSS and USS in MiB, from /proc/PID/smaps_rollup.

    RSS counts the pages every worker shares with the master under preload_app;
    PSS splits shared pages among their users; USS is what one more worker adds.
    """
    sizes = []
    for pid in pids:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            kib = {
                line.split(":")[0]: int(line.split()[1]) for line in rollup if line.endswith("kB\n")
            }
        uss = kib["Private_Clean"] + kib["Private_Dirty"]
        sizes.append({"rss": kib["Rss"] / 1024, "pss": kib["Pss"] / 1024, "uss": uss / 1024})
    return sizes


def measure(size, service_url, token, ids, peer_ids, deep):
    results = {}
    for scenario in scenarios(deep):
        if ONLY and scenario.name not in ONLY:
            continue
        with_peer = (
            PEER_URL
            and scenario.peer_path is not None
            and (scenario.peer_max_size is None or size <= scenario.peer_max_size)
        )
        peer_path = f"{urlsplit(PEER_URL).path}{scenario.peer_path}" if with_peer else None
        peer_base = f"{urlsplit(PEER_URL).scheme}://{urlsplit(PEER_URL).netloc}"
        runs = {"service": [], "peer": []}
        wrk(service_url, scenario, scenario.path, token, ids, WARMUP)
        if with_peer:
            wrk(peer_base, scenario, peer_path, token, peer_ids, WARMUP)
        # With a peer, the two alternate run by run, so drift hits both alike.
        for _ in range(ROUNDS if with_peer else 1):
            runs["service"].append(wrk(service_url, scenario, scenario.path, token, ids, DURATION))
            if with_peer:
                runs["peer"].append(wrk(peer_base, scenario, peer_path, token, peer_ids, DURATION))
        results[scenario.name] = runs
        print(f"{size:>9,} {scenario.name:<18} {summary(runs)}", flush=True)
    return results


def summary(runs):
    service = statistics.median(run["rps"] for run in runs["service"])
    text = f"{service:9.0f} req/s"
    if runs["peer"]:
        text += f"   ratio {ratio(runs):.2f}x"
    return text


def main():
    report = {
        "sizes": {},
        "memory_mib": {},
        "seed_seconds": {},
        "machine": machine(),
        "peer": PEER_URL or None,
    }
    for size in SIZES:
        env = {
            **os.environ,
            "DATABASE_URL": f"{SERVER}/{BENCH_DATABASE}",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "HOST": "127.0.0.1",
            "PORT": str(PORT),
            "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", str(WORKERS)),
            # Rate limits stay on, set high enough never to trigger.
            "NOTES_THROTTLE_ANON": "100000000/minute",
            "NOTES_THROTTLE_USER": "100000000/minute",
            "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(16),
        }
        report["seed_seconds"][size], token, *ids = prepare_database(size, env)
        peer_ids = prepare_peer(env) if PEER_URL else None
        with gunicorn(env, ROOT / "bench" / "gunicorn.log", ready="/health/ready") as server:
            deep = deep_page(server.url, size)
            report["sizes"][size] = measure(size, server.url, token, ids, peer_ids, deep)
            report["memory_mib"][size] = worker_memory_mib(server.workers())
    (ROOT / "bench" / "results.json").write_text(json.dumps(report, indent=2))
    write_report(report)


def machine():
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    cpu = models[0] if models else platform.processor()
    with psycopg.connect(f"{SERVER}/postgres") as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "postgres": postgres,
        "wrk": f"-t1 -c{CONNECTIONS}, {WARMUP} s warm-up, {DURATION} s measured",
        "rounds": ROUNDS,
    }


if __name__ == "__main__":
    main()
