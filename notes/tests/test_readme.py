"""Contract, Operating it: the README's tour works as written, in a fresh shell after `make run`.

The README's shell blocks after `make run` (the quick start's request, then the
tour), and docs/idempotency.md's retry, which goes on in the tour's shell, run as
written in one bash with a clean environment: only where the suite's database
and Redis are (the real environment overrides `.env`, as for `make run`), and
the port this server listens on instead of 8000. Every request must answer what
the comments beside it say: each status they name (and none they do not name
but 200), each header they name; the bodies are checked against the commands.
"""

import json
import re
import shlex
import subprocess
import sys

import pytest
from django.core.management import call_command

import harness.server
import harness.wait
from conftest import TEST_REDIS_URL, live_database_url
from notes.tests.shell_blocks import ROOT, Run, marked_for, run

ACCESS = re.compile(r"\s(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (/\S*) (\d{3}) [\d.]+ ms$", re.M)
# A fresh shell: no virtualenv on the PATH, nothing of Django's set.
FRESH_SHELL = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def clean_env(home, **settings):
    return {**FRESH_SHELL, "HOME": str(home), **settings}


@pytest.fixture
def after_make_run(django_db_reset_sequences, tmp_path):
    """gunicorn as `make run` leaves it (.env read, the bundled notes seeded on a new table).

    One worker of one thread, so the access log lists the requests in the order made.
    """
    call_command("seed", verbosity=0)
    where = {"DATABASE_URL": live_database_url(), "REDIS_URL": TEST_REDIS_URL}
    env = clean_env(
        tmp_path,
        DJANGO_READ_DOT_ENV_FILE="true",
        PORT=str(harness.server.free_port()),
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="1",
        **where,
    )
    with harness.server.gunicorn(env, tmp_path / "gunicorn.log") as server:
        yield server, clean_env(tmp_path, **where)


def answered(server, count):
    """The statuses of the first `count` requests the server logged, health probes aside."""

    def logged():
        return [m for m in ACCESS.findall(server.log_text()) if not m[1].startswith("/health")]

    assert harness.wait.until(lambda: len(logged()) >= count, timeout=10), server.log_text()
    return [int(status) for _, _, status in logged()]


def test_the_readme_runs_as_written_after_make_run(after_make_run):
    server, env = after_make_run
    port = server.url.rsplit(":", 1)[1]

    ran = run(
        marked_for("notes/tests/test_readme.py"), env, {"localhost:8000": f"localhost:{port}"}
    )

    assert ran.returncode == 0, ran.report()
    assert_statuses_and_headers_as_commented(ran, answered(server, requests_made(ran)))
    assert_the_reads(ran)
    assert_the_writes(ran)
    assert_a_retry_is_replayed(ran)


def requests_made(ran: Run) -> int:
    return sum(paragraph.requests() for paragraph in ran.paragraphs)


def assert_statuses_and_headers_as_commented(ran: Run, statuses):
    assert len(statuses) == requests_made(ran), statuses
    for paragraph, outputs in ran.by_paragraph():
        got, statuses = set(statuses[: paragraph.requests()]), statuses[paragraph.requests() :]
        where = f"{paragraph.commands}: answered {got}, comments name {paragraph.statuses()}"
        assert paragraph.statuses() <= got, where
        assert got - {200} <= paragraph.statuses(), where
        for name, value in paragraph.headers():
            line = re.compile(rf"^{name}: {re.escape(value)}", re.I | re.M)
            assert any(line.search(output) for output in outputs), (name, value, outputs)


def body(output):
    """The JSON body of a curl output, with or without its headers (-i)."""
    return json.loads(output.rsplit("\n\n", 1)[-1])


def sent(ran, fragment):
    """The JSON a command sends with -d."""
    command = next(c for p in ran.paragraphs for c in p.commands if fragment in c)
    words = shlex.split(command)
    return json.loads(words[words.index("-d") + 1])


def assert_the_reads(ran: Run):
    quick_start = body(ran.output_of("curl -s localhost:8000/api/notes/"))
    assert len(quick_start["data"]) == 28  # the bundled notes, seeded by make run
    created = body(ran.output_of('"Water the ferns"'))["data"]
    assert (created["id"], created["content"]) == (29, sent(ran, '"Water the ferns"')["content"])
    page = body(ran.output_of("page_size=2"))
    assert [note["id"] for note in page["data"]] == [29, 28]  # newest first
    assert "cursor=" in page["links"]["next"]
    assert page["links"]["previous"] is None
    by_sends = [note["times_sent"] for note in body(ran.output_of("ordering="))["data"]]
    assert len(by_sends) == 10
    assert by_sends == sorted(by_sends, reverse=True)
    found = body(ran.output_of("search=simplify+life"))["data"]
    assert found
    assert all({"simplify", "life"} <= set(re.findall(r"\w+", n["content"].lower())) for n in found)
    assert body(ran.output_of("curl -s localhost:8000/api/notes/29/"))["data"] == created


def assert_the_writes(ran: Run):
    for method in ("PUT", "PATCH"):
        edited = body(ran.output_of(f"-X {method} "))["data"]
        assert (edited["id"], edited["content"]) == (29, sent(ran, f"-X {method} ")["content"])
    assert ran.output_of("-X DELETE").strip() == "204"
    sent_one = body(ran.output_of("/3/send/"))["data"]
    assert (sent_one["id"], sent_one["times_sent"]) == (3, 1)
    assert body(ran.output_of("send-next/"))["data"]["times_sent"] == 1


def assert_a_retry_is_replayed(ran: Run):
    first, again = ran.outputs_of("Idempotency-Key: $KEY")
    assert body(first) == body(again)
    assert "idempotent-replayed" not in first.lower()
    assert "idempotent-replayed: true" in again.lower()


def test_every_page_the_readme_links_to_is_in_the_site(tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
        cwd=ROOT,
        check=True,
        env={**FRESH_SHELL, "HOME": str(tmp_path), "NO_MKDOCS_2_WARNING": "1"},
    )
    links = re.findall(r"\]\((?!https?:)([^)#]+)(?:#([^)]+))?\)", (ROOT / "README.md").read_text())

    assert len(links) >= 20
    for target, anchor in links:
        if not target.startswith("docs/"):
            assert (ROOT / target).is_file(), target  # SECURITY.md, BENCHMARKS.md: the repository's
            continue
        page = site / target.removeprefix("docs/").removesuffix(".md") / "index.html"
        if target == "docs/index.md":
            page = site / "index.html"
        assert page.is_file(), target
        assert not anchor or f'id="{anchor}"' in page.read_text(), f"{target}#{anchor}"
