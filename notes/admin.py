"""The Django admin for notes: list, search, edit, delete, and reset send counts."""

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import QuerySet
from django.db.models.functions import Now
from django.http import HttpRequest

from notes import services
from notes.models import NOTE_COLUMNS, Note

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin[Note]
else:
    # Django's ModelAdmin takes no type argument at run time.
    ModelAdmin = admin.ModelAdmin


@admin.register(Note)
class NoteAdmin(ModelAdmin):
    # Every column, the content as a preview; the ones the database sets are shown, not edited.
    list_display = ["preview" if name == "content" else name for name in NOTE_COLUMNS]
    list_display_links = ["id", "preview"]
    list_filter = ["created_at", "updated_at", "times_sent"]
    search_fields = ["content"]
    readonly_fields = [name for name in NOTE_COLUMNS if not Note._meta.get_field(name).editable]
    date_hierarchy = "created_at"
    actions = ["reset_times_sent"]
    # The exact total needs a COUNT(*) over the whole table on every page view.
    show_full_result_count = False

    def save_model(self, request: HttpRequest, obj: Note, form: Any, change: bool) -> None:
        # Through the services, as the API writes: an edit writes content only,
        # so it never undoes a send counted since the form was opened. (The
        # bulk reset below is one ORM UPDATE of the rows the admin selected.)
        if change:
            saved = services.update_note(note_id=obj.pk, content=obj.content)
        else:
            saved = services.create_note(content=obj.content)
        if saved is not None:
            # The admin goes on with obj (its log entry, its message, the redirect to
            # it): it takes the row as written, the database's id and times included.
            for field in NOTE_COLUMNS:
                setattr(obj, field, getattr(saved, field))

    def delete_model(self, request: HttpRequest, obj: Note) -> None:
        services.delete_note(note_id=obj.pk)

    @admin.display(description="content", ordering="content")
    def preview(self, note: Note) -> str:
        return note.content if len(note.content) <= 80 else f"{note.content[:79]}…"

    @admin.action(description="Reset times sent to 0")
    def reset_times_sent(self, request: HttpRequest, queryset: QuerySet[Note]) -> None:
        count = queryset.update(times_sent=0, updated_at=Now())
        self.message_user(request, f"Reset the send count of {count} note(s).")
