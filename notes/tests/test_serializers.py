"""The serializer's field cache against DRF: a release that breaks what it relies on fails here.

NoteSerializer builds ModelSerializer's fields once per class and binds shallow
copies of them per serializer (notes/api/serializers.py). That holds only while
DRF sets a field's options at construction and never changes them as the field
is used; these tests compare the cached fields with DRF's own, fresh ones. It
also declares no validators, which holds while the model has no rule for
ModelSerializer to check.
"""

import pytest
from rest_framework import serializers

from notes.api.serializers import NoteSerializer
from notes.models import Note

pytestmark = pytest.mark.django_db

INPUTS = [
    {"content": "Buy milk"},
    {"content": "  trimmed  "},
    {"content": 5},
    {"content": None},
    {"content": " "},
    {"content": "x" * 256},
    {"content": "nul\x00"},
    {"content": "fine", "id": 3, "times_sent": 9},
    {"content": "fine", "bogus": 1},
    {},
    ["not", "an", "object"],
]


class FreshFields(NoteSerializer):
    """NoteSerializer with the fields DRF builds anew (deep copies) for every instance."""

    def get_fields(self):
        return serializers.ModelSerializer.get_fields(self)


def outcome(serializer_class, data, partial):
    serializer = serializer_class(data=data, partial=partial)
    valid = serializer.is_valid()
    return valid, dict(serializer.validated_data) if valid else serializer.errors


@pytest.mark.parametrize("partial", [False, True])
@pytest.mark.parametrize("data", INPUTS)
def test_cached_fields_validate_as_drfs_own(data, partial):
    assert outcome(NoteSerializer, data, partial) == outcome(FreshFields, data, partial)


def test_cached_fields_render_as_drfs_own(note):
    assert NoteSerializer(note).data == FreshFields(note).data
    cached, fresh = NoteSerializer().fields, FreshFields().fields
    assert {name: repr(field) for name, field in cached.items()} == {
        name: repr(field) for name, field in fresh.items()
    }


def test_each_serializer_binds_fields_of_its_own():
    first, second = NoteSerializer(), NoteSerializer()

    for name, field in first.fields.items():
        assert field is not second.fields[name]
        assert (field.parent, field.field_name) == (first, name)
        assert second.fields[name].parent is second


def test_using_the_fields_never_changes_the_class_templates(note):
    class Unused(NoteSerializer):
        """Templates of its own, built here, untouched by any earlier test."""

    templates = Unused().field_templates()
    before = {name: repr(vars(field)) for name, field in templates.items()}

    for partial in (False, True):
        for data in INPUTS:
            outcome(Unused, data, partial)
    Unused(note).data  # noqa: B018 (renders)
    Unused([note, note], many=True).data  # noqa: B018

    assert {name: repr(vars(field)) for name, field in templates.items()} == before
    assert all(field.parent is None for field in templates.values())


def test_the_model_has_no_rule_for_the_serializer_to_check():
    """NoteSerializer's Meta.validators is empty: ModelSerializer's own would be the
    model's unique-together, unique-constraint and unique-for-date rules, of which a
    Note has none. A model that gains one fails here."""

    class ModelsOwn(serializers.ModelSerializer[Note]):
        class Meta:
            model = Note
            fields = NoteSerializer.Meta.fields

    assert ModelsOwn().get_validators() == []
    assert NoteSerializer().get_validators() == []
