"""Validation of a note's input and rendering of its output: no writes happen here."""

import copy
from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notes.models import NOTE_COLUMNS, Note

# Python's blanks, which DRF trims (str.strip), and NUL, which PostgreSQL refuses.
BLANKS = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
CONTENT_MAX_LENGTH = Note._meta.get_field("content").max_length
# The content rule as an OpenAPI pattern: no NUL, and 1 to CONTENT_MAX_LENGTH
# characters once the surrounding blanks are trimmed (so a longer string with
# blanks may be valid): one non-blank, or two with at most max - 2 between them.
TEXT_PATTERN = (
    rf"^[{BLANKS}]*[^\x00{BLANKS}]"
    rf"(?:[^\x00]{{0,{CONTENT_MAX_LENGTH - 2}}}[^\x00{BLANKS}])?[{BLANKS}]*$"  # type: ignore[operator]
)
Field = serializers.Field[Any, Any, Any, Any]


@extend_schema_field({"type": "string", "pattern": TEXT_PATTERN})
class StrictCharField(serializers.CharField):
    """A CharField that rejects numbers and booleans instead of converting them to text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        text: str = super().to_internal_value(data)
        return text


# A note's columns as the model declares them: `content` validated, the others
# read-only. (A docstring here would become the OpenAPI component's description.)
class NoteSerializer(serializers.ModelSerializer[Note]):
    # DRF's CharField already trims blanks and rejects NUL and lone surrogates.
    content = StrictCharField(max_length=CONTENT_MAX_LENGTH)

    # A form post from the browsable API carries its CSRF token alongside the data.
    transport_fields = frozenset({"csrfmiddlewaretoken"})
    _field_templates: ClassVar[dict[str, Field]]

    class Meta:
        model = Note
        # Read-only where the model says so (the id, and the columns the database sets).
        fields = list(NOTE_COLUMNS)
        # No unique-together or unique-for-date rule to check: DRF's documented way to
        # say so, rather than have ModelSerializer look for them in the model on every write.
        validators: list[Any] = []

    def field_templates(self) -> dict[str, Field]:
        """The fields ModelSerializer builds from the model, built once per class.

        ModelSerializer inspects the model to build its fields on every
        instantiation, and DRF deep-copies them; the result never changes.
        Each serializer binds shallow copies of these (their options are set
        at construction and only read after; test_serializers.py fails if a
        DRF release starts changing them as they are used).
        """
        cls = type(self)
        if "_field_templates" not in cls.__dict__:
            cls._field_templates = super().get_fields()
        return cls._field_templates

    def get_fields(self) -> dict[str, Field]:
        return {name: copy.copy(field) for name, field in self.field_templates().items()}

    def to_representation(self, instance: Note) -> dict[str, Any]:
        # Every response renders notes, so this is the hot path: each column
        # goes through its own field's to_representation (DRF's formats and the
        # current time zone), the field built once per class rather than copied
        # and bound for every note as DRF's own to_representation would.
        return {
            name: field.to_representation(getattr(instance, name))
            for name, field in self.field_templates().items()
        }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # Read-only fields are ignored so a GET body can be PUT back as it is;
        # any other unknown field is a mistake the client should hear about.
        if isinstance(data, dict):
            unknown = set(data) - set(self.fields) - self.transport_fields
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in sorted(unknown)}
                )
        validated: dict[str, Any] = super().to_internal_value(data)
        return validated
