"""Contract, Endpoints: editors list, search, edit, delete and reset notes in the admin."""

import pytest

from notes.models import Note

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_the_admin_needs_a_staff_user(client, user):
    assert client.get("/admin/notes/note/").status_code == 302
    client.force_login(user)

    response = client.get("/admin/notes/note/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_list_shows_notes_with_their_columns(admin_client, note):
    response = admin_client.get("/admin/notes/note/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Buy milk" in html
    for column in ("column-id", "column-preview", "column-times_sent", "column-created_at"):
        assert column in html


def test_search_finds_notes_by_content(admin_client, make_notes):
    Note.objects.create(content="Water the ferns")
    make_notes(3)

    response = admin_client.get("/admin/notes/note/", {"q": "ferns"})

    assert list(response.context["cl"].result_list) == [Note.objects.get(content__contains="ferns")]


def test_editing_saves_content_and_moves_updated_at(admin_client, note):
    response = admin_client.post(f"/admin/notes/note/{note.pk}/change/", {"content": "Buy tea"})

    assert response.status_code == 302
    saved = Note.objects.get(pk=note.pk)
    assert saved.content == "Buy tea"
    assert saved.updated_at > note.updated_at
    assert saved.created_at == note.created_at


def test_timestamps_and_times_sent_are_read_only(admin_client, note):
    """Catches the admin writing a posted times_sent or created_at, and an edit that was
    refused or never saved, after which an unchanged times_sent showed nothing."""
    response = admin_client.post(
        f"/admin/notes/note/{note.pk}/change/",
        {"content": "Buy tea", "times_sent": 7, "created_at": "2000-01-01 00:00"},
    )

    assert response.status_code == 302
    saved = Note.objects.get(pk=note.pk)
    assert (saved.content, saved.times_sent, saved.created_at) == ("Buy tea", 0, note.created_at)


def test_deleting_removes_the_note(admin_client, note):
    response = admin_client.post(f"/admin/notes/note/{note.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Note.objects.filter(pk=note.pk).exists()


def test_the_reset_action_zeroes_times_sent(admin_client, make_notes):
    notes = make_notes(3, times_sent=5)

    admin_client.post(
        "/admin/notes/note/",
        {"action": "reset_times_sent", "_selected_action": [n.pk for n in notes[:2]]},
    )

    assert sorted(Note.objects.values_list("times_sent", flat=True)) == [0, 0, 5]
