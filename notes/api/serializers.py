"""Input validation and representation of notes."""

import copy
from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notes import services
from notes.api.conditional import missed_write
from notes.models import Note

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
# Renders every timestamp of a note: DRF's format and the current time zone.
TIMESTAMP = serializers.DateTimeField(read_only=True)


@extend_schema_field({"type": "string", "pattern": TEXT_PATTERN})
class StrictCharField(serializers.CharField):
    """A CharField that rejects numbers and booleans instead of converting them to text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        text: str = super().to_internal_value(data)
        return text


class NoteSerializer(serializers.ModelSerializer[Note]):
    # DRF's CharField already trims blanks and rejects NUL and lone surrogates.
    content = StrictCharField(max_length=CONTENT_MAX_LENGTH)

    # A form post from the browsable API carries its CSRF token alongside the data.
    transport_fields = frozenset({"csrfmiddlewaretoken"})
    _field_templates: ClassVar[dict[str, serializers.Field[Any, Any, Any, Any]]]

    class Meta:
        model = Note
        fields = ["id", "content", "times_sent", "created_at", "updated_at"]
        read_only_fields = ["id", "times_sent", "created_at", "updated_at"]

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # ModelSerializer inspects the model to build its fields on every
        # instantiation, and DRF deep-copies them; the result never changes, so
        # it is built once per class and each serializer binds shallow copies
        # (their options are set once, at construction, and only read after).
        cls = type(self)
        if "_field_templates" not in cls.__dict__:
            cls._field_templates = super().get_fields()
        return {name: copy.copy(field) for name, field in cls._field_templates.items()}

    def create(self, validated_data: dict[str, Any]) -> Note:
        return services.create_note(content=validated_data["content"])

    def update(self, instance: Note, validated_data: dict[str, Any]) -> Note:
        # `versions` comes from the view's If-Match (serializer.save(versions=...)).
        versions = validated_data.get("versions")
        content = validated_data.get("content")
        note = services.update_note(note_id=instance.pk, content=content, versions=versions)
        if note is None:
            raise missed_write(instance.pk, versions)
        return note

    def to_representation(self, instance: Note) -> dict[str, Any]:
        # Every response renders notes, so this is the hot path: the five
        # attributes are written out rather than walked field by field, since
        # DRF rebuilds (deep-copies) a serializer's fields for each instance.
        return {
            "id": instance.id,
            "content": instance.content,
            "times_sent": instance.times_sent,
            "created_at": TIMESTAMP.to_representation(instance.created_at),
            "updated_at": TIMESTAMP.to_representation(instance.updated_at),
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
