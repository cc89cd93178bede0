"""Django's loaddata, then ANALYZE of every table it loaded, as `seed` does."""

from collections.abc import Sequence

from django.core.management.commands import loaddata
from django.db import connections


class Command(loaddata.Command):
    help = loaddata.Command.help + " Then the loaded tables are analyzed for the planner."

    def loaddata(self, fixture_labels: Sequence[str]) -> None:
        super().loaddata(fixture_labels)
        connection = connections[self.using]
        with connection.cursor() as cursor:
            for table in sorted(model._meta.db_table for model in self.models):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
