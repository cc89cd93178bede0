"""Real browsers: Swagger UI, ReDoc, the admin and the browsable API in headless Chromium."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from conftest import ARTIFACTS
from notes.models import Note

PASSWORD = "correct horse battery staple"


@pytest.fixture
def page(browser, gunicorn_url, transactional_db, request):
    context = browser.new_context(base_url=gunicorn_url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sent, refused = set(), set()
    page.on("request", lambda req: sent.add(req.url))
    # A request the page's Content-Security-Policy refused never left the browser.
    page.on("requestfailed", lambda req: req.failure == "csp" and refused.add(req.url))
    yield page
    page.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
    context.close()
    outside = {url for url in sent - refused if urlsplit(url).hostname not in (None, "127.0.0.1")}
    assert not outside, f"the page reached out to {outside}"


@pytest.fixture
def person(django_user_model, settings):
    """A staff user whose password the server, with its production hashers, can check."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    return django_user_model.objects.create_superuser("editor", password=PASSWORD)


def log_in(page, path, person):
    page.goto(path)
    page.fill("#id_username", person.username)
    page.fill("#id_password", PASSWORD)
    page.locator("[type=submit]").click()


def test_swagger_ui_lists_the_operations_and_tries_the_list(page):
    Note.objects.create(content="Visible in Swagger UI")
    page.goto("/api/docs/")

    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() >= 9
    operation = page.locator(".opblock-get", has=page.locator('[data-path="/api/notes/"]'))
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()

    status = operation.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text("Visible in Swagger UI")


def test_redoc_renders_the_document(page):
    page.goto("/api/redoc/")

    expect(page.get_by_role("heading", name="Notes API")).to_be_visible()
    expect(page.get_by_role("heading", name="Count one send of this note.")).to_be_visible()


def test_an_editor_finds_a_note_in_the_admin_edits_it_and_sees_it_saved(page, person):
    note = Note.objects.create(content="Water the ferns")
    Note.objects.create(content="Feed the cat")
    log_in(page, "/admin/login/?next=/admin/notes/note/", person)

    page.fill("#searchbar", "ferns")
    page.keyboard.press("Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.locator("#result_list tbody tr a").first.click()
    page.fill("[name=content]", "Water the ferns and the palms")
    page.locator("[name=_save]").click()

    expect(page.locator(".messagelist .success")).to_contain_text("was changed successfully")
    assert Note.objects.get(pk=note.pk).content == "Water the ferns and the palms"


def test_a_user_logs_into_the_browsable_api_and_creates_a_note_with_its_form(page, person):
    log_in(page, "/api-auth/login/?next=/api/notes/", person)
    expect(page.get_by_text(person.username).first).to_be_visible()

    form = page.locator("#post-object-form form")
    form.locator("[name=content]").fill("Made in the browsable API")
    form.get_by_role("button", name="POST").click()

    expect(page.locator(".response-info")).to_contain_text("HTTP 201 Created")
    assert Note.objects.filter(content="Made in the browsable API").exists()
