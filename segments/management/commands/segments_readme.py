"""Write the criteria table of segments/README.md from the criteria's declarations (`--check`: fail if stale)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from segments.criteria.readme import README, readme_with_table


class Command(BaseCommand):
    help = "Regenerate the criteria table in segments/README.md from the criteria's declarations."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="only check that the table is current")

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        current = README.read_text()
        wanted = readme_with_table(current)
        if current == wanted:
            self.stdout.write("segments/README.md: the criteria table is current")
            return
        if check:
            raise CommandError("segments/README.md: the criteria table is stale; run manage.py segments_readme")
        README.write_text(wanted)
        self.stdout.write("segments/README.md: criteria table written")
