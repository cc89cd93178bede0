"""Contract, Who may do what: every HTML page sends a Content-Security-Policy and works under it.

Scripts and styles come only from the service itself. Each page is opened in
headless Chromium, used, and must report no violation of its policy.
"""

import pytest
from playwright.sync_api import expect

from conftest import gunicorn
from notes.models import Note
from notes.tests.test_browser import log_in

# The browser tests' fixtures: a page on the gunicorn server, a staff user it can log in.
pytest_plugins = ["notes.tests.test_browser"]

HTML_PAGES = [
    "/admin/login/",
    "/api-auth/login/",
    "/api/notes/?format=api",
    "/api/",
    "/api/docs/",
    "/api/redoc/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", HTML_PAGES)
def test_every_html_page_sends_a_policy_that_allows_only_its_own_scripts(client, path):
    response = client.get(path, HTTP_ACCEPT="text/html")

    assert response["Content-Type"].startswith("text/html")
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"


def watch(page):
    """What Chromium reports of the page's policy: it logs every refusal to the console."""
    reported = []
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text
            and reported.append(f"{message.text} at {message.location}")
        ),
    )
    return reported


@pytest.fixture
def violations(page):
    return watch(page)


@pytest.fixture
def own_page(browser, transactional_db, tmp_path):
    """A page on a server of its own: the admin's workers cache content type ids, which
    the suite's database flushes renumber, and the suite's shared server has an admin
    test of its own."""
    with gunicorn(tmp_path) as (url, _, _):
        context = browser.new_context(base_url=url)
        yield context.new_page()
        context.close()


def test_the_admin_change_form_saves_under_the_policy(own_page, person):
    violations = watch(own_page)
    note = Note.objects.create(content="Water the ferns")
    log_in(own_page, f"/admin/login/?next=/admin/notes/note/{note.pk}/change/", person)

    own_page.fill("[name=content]", "Water the ferns and the palms")
    own_page.locator("[name=_save]").click()

    expect(own_page.locator(".messagelist .success")).to_contain_text("was changed successfully")
    assert Note.objects.get(pk=note.pk).content == "Water the ferns and the palms"
    assert violations == []


def test_swagger_ui_tries_a_request_under_the_policy(page, violations):
    Note.objects.create(content="Seen through Swagger UI")
    page.goto("/api/docs/")

    operation = page.locator(".opblock-get", has=page.locator('[data-path="/api/notes/"]'))
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()

    expect(operation.locator(".live-responses-table")).to_contain_text("Seen through Swagger UI")
    assert violations == []


def test_the_browsable_api_form_posts_under_the_policy(page, violations, person):
    log_in(page, "/api-auth/login/?next=/api/notes/", person)

    form = page.locator("#post-object-form form")
    form.locator("[name=content]").fill("Posted under the policy")
    form.get_by_role("button", name="POST").click()

    expect(page.locator(".response-info")).to_contain_text("HTTP 201 Created")
    assert Note.objects.filter(content="Posted under the policy").exists()
    assert violations == []


def test_redoc_renders_under_the_policy(page, violations):
    page.goto("/api/redoc/")

    expect(page.get_by_role("heading", name="Count one send of this note.")).to_be_visible()
    # ReDoc always asks for its vendor's logo from the internet: the policy refuses
    # that, as it should (img-src), and nothing else.
    logo = "'https://cdn.redoc.ly/redoc/logo-mini.svg' violates"
    assert [violation for violation in violations if logo not in violation] == []


def test_a_user_logs_out_of_the_browsable_api_under_the_policy(page, violations, person):
    log_in(page, "/api-auth/login/?next=/api/notes/", person)

    page.locator(".dropdown-toggle").first.click()
    page.get_by_role("button", name="Log out").click()

    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    assert violations == []
