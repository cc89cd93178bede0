"""Give a user a new REST token, print its key; the old key is refused from then on."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from notes.tokens.models import Token


class Command(BaseCommand):
    help = (
        "Replace a user's REST tokens with one new one (a fresh TOKEN_MAX_AGE) and print only "
        "its key. The old key is refused at once by the database; running workers that "
        "remember it refuse it within TOKEN_CACHE_SECONDS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model()._default_manager
        by_name = {users.model.USERNAME_FIELD: options["username"]}
        with transaction.atomic():
            # The user's row locked, so two rotations at once run one after the other.
            user = users.select_for_update().filter(**by_name).first()
            if user is None:
                raise CommandError(f"No user named {options['username']!r}.")
            # Deleting sends post_delete, which empties this process's token cache.
            Token.objects.filter(user=user).delete()
            token = Token.objects.issue(user)
        self.stdout.write(token.key or "")
