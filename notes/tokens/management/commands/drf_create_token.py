"""Make a REST token for a user and print its key, once: DRF's command, for digests.

The output keeps DRF's shape, `Generated token <key> for user <username>`. The
service keeps only the key's digest, so each run makes a new token (a user may
hold several); `-r` revokes the user's other tokens first.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from notes.tokens.models import Token


class Command(BaseCommand):
    help = "Make a REST token for a user and print its key (shown this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "-r", "--reset", action="store_true", help="Revoke the user's other tokens first."
        )
        parser.add_argument("--name", default="", help="What the token is for.")

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model()._default_manager
        username = options["username"]
        with transaction.atomic():
            user = users.filter(**{users.model.USERNAME_FIELD: username}).first()
            if user is None:
                raise CommandError(f"Cannot create the Token: user {username} does not exist")
            if options["reset"]:
                Token.objects.filter(user=user).delete()
            token = Token.objects.issue(user, name=options["name"])
        self.stdout.write(f"Generated token {token.key} for user {username}")
