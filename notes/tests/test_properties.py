"""Contract, The resource: any Unicode text is either a valid note, stored as sent, or a 400."""

import json
import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notes.api.serializers import NoteSerializer
from notes.models import Note

# Ordinary text, plus the characters the contract names: NUL, lone surrogates,
# astral characters, combining marks, and blanks that get trimmed.
tricky = st.sampled_from(["\x00", "\ud800", "\udfff", "😀", "\U00010348", "\u0301", " ", "\t"])
texts = st.text(alphabet=st.one_of(st.characters(codec=None), tricky), max_size=300)
near_limit = st.builds(
    lambda char, length, pad: pad + char * length + pad,
    st.sampled_from(["a", "é", "😀", "中", "\u0301"]),
    st.integers(250, 260),
    st.sampled_from(["", " ", "\n "]),
)


def is_valid_content(text):
    """The contract's rule, stated independently of DRF."""
    kept = text.strip()
    return (
        1 <= len(kept) <= 255
        and "\x00" not in kept
        and not any(0xD800 <= ord(char) <= 0xDFFF for char in kept)
    )


@given(st.one_of(texts, near_limit))
@settings(max_examples=300)
def test_the_serializer_accepts_exactly_the_valid_texts(text):
    serializer = NoteSerializer(data={"content": text})

    assert serializer.is_valid() == is_valid_content(text), serializer.errors
    if is_valid_content(text):
        assert serializer.validated_data["content"] == text.strip()


@pytest.fixture(scope="module")
def documented_content():
    """The content rule of a request body, as the OpenAPI document states it."""
    schema = SchemaGenerator().get_schema(public=True)
    return schema["components"]["schemas"]["NoteRequest"]["properties"]["content"]


@given(st.one_of(texts, near_limit).filter(lambda t: not re.search("[\ud800-\udfff]", t)))
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_document_states_the_same_rule(documented_content, text):
    # A JSON Schema pattern matches anywhere unless anchored; lengths count characters.
    documented = re.search(documented_content["pattern"], text) is not None and len(text) <= (
        documented_content.get("maxLength", len(text))
    )

    assert documented == is_valid_content(text)


@pytest.mark.django_db
@given(st.one_of(texts, near_limit))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_api_stores_valid_texts_exactly_and_refuses_the_rest(auth_client, text):
    # json.dumps escapes lone surrogates, so they reach the server as JSON allows.
    response = auth_client.generic(
        "POST", "/api/notes/", json.dumps({"content": text}), content_type="application/json"
    )

    if is_valid_content(text):
        assert response.status_code == 201
        stored = Note.objects.get(pk=response.json()["data"]["id"])
        assert stored.content == text.strip()
        assert (
            auth_client.get(f"/api/notes/{stored.pk}/").json()["data"]["content"] == stored.content
        )
    else:
        assert response.status_code == 400
        assert "content" in response.json()["error"]["details"]
