"""Contract, The resource: bad input gets a clear 400 (or 415), never a 500, and changes nothing."""

import json

import pytest

from notes.models import Note

pytestmark = pytest.mark.django_db


def post_raw(client, body, content_type="application/json"):
    return client.generic("POST", "/api/notes/", body, content_type=content_type)


def assert_field_error(response, field):
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["status"] == 400
    assert error["code"] == "invalid"
    assert error["details"][field], error
    assert not Note.objects.exists()


@pytest.mark.parametrize("content", [123, 1.5, True, False, None, {"text": "x"}, ["x"]])
def test_non_string_content_is_refused_not_converted(auth_client, content):
    assert_field_error(auth_client.post("/api/notes/", {"content": content}), "content")


@pytest.mark.parametrize("content", ["", "   ", "\t\n"])
def test_blank_content_is_refused(auth_client, content):
    assert_field_error(auth_client.post("/api/notes/", {"content": content}), "content")


def test_missing_content_is_refused(auth_client):
    assert_field_error(auth_client.post("/api/notes/", {}), "content")


def test_surrounding_blanks_are_trimmed(auth_client):
    response = auth_client.post("/api/notes/", {"content": "  padded \n"})

    assert response.json()["data"]["content"] == "padded"


@pytest.mark.parametrize("char", ["a", "é", "😀", "中"])
def test_255_characters_fit_whatever_their_bytes(auth_client, char):
    response = auth_client.post("/api/notes/", {"content": char * 255})

    assert response.status_code == 201
    assert Note.objects.get().content == char * 255


@pytest.mark.parametrize("char", ["a", "😀"])
def test_256_characters_do_not(auth_client, char):
    assert_field_error(auth_client.post("/api/notes/", {"content": char * 256}), "content")


@pytest.mark.parametrize(
    "raw_content",
    [r'"nul \u0000 inside"', r'"lone \ud800 high"', r'"lone \udfff low"', r'"\ud83d"'],
)
def test_nul_and_lone_surrogates_are_refused(auth_client, raw_content):
    response = post_raw(auth_client, f'{{"content": {raw_content}}}')

    assert_field_error(response, "content")


def test_unknown_fields_are_refused_by_name(auth_client):
    response = auth_client.post("/api/notes/", {"content": "ok", "colour": "red", "tags": []})

    assert_field_error(response, "colour")
    assert set(response.json()["error"]["details"]) == {"colour", "tags"}


def test_unknown_fields_are_refused_on_patch_too(auth_client, note):
    response = auth_client.patch(f"/api/notes/{note.pk}/", {"title": "x"})

    assert response.status_code == 400
    assert "title" in response.json()["error"]["details"]


@pytest.mark.parametrize("body", ["[]", '"a string"', "42", "null"])
def test_a_body_that_is_not_an_object_is_refused(auth_client, body):
    response = post_raw(auth_client, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize(
    "body", ['{"content": "x"', "{content: 'x'}", '{"content": NaN}', "\xff\xfe", "[" * 60_000]
)
def test_malformed_json_is_a_parse_error(auth_client, body):
    response = post_raw(auth_client, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert not Note.objects.exists()


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "image/png"])
def test_unsupported_media_types_answer_415(auth_client, content_type):
    response = post_raw(auth_client, json.dumps({"content": "x"}), content_type)

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_the_browsable_api_form_post_is_accepted(auth_client):
    response = auth_client.post(
        "/api/notes/",
        {"content": "from a form", "csrfmiddlewaretoken": "ignored"},
        format="multipart",
    )

    assert response.status_code == 201
    assert Note.objects.get().content == "from a form"
