from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from loyalty.accounts.services import account_upsert


class Command(BaseCommand):
    help = "Create an account (or update its name, currency and timezone). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("aid", help="T or P followed by 8 digits, e.g. T00000002")
        parser.add_argument("--name", required=True)
        parser.add_argument("--currency", help="ISO 4217 code (default NOK)")
        parser.add_argument("--timezone", help="IANA time zone (default Europe/Oslo)")

    def handle(self, *args, aid, name, currency, timezone, **options):
        try:
            account = account_upsert(aid=aid, name=name, currency=currency, timezone_name=timezone)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"{account.aid} {account.name} ({account.currency}, {account.timezone})")
