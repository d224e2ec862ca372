import json

from django.core.management.base import BaseCommand, CommandError

from loyalty.accounts.models import Account
from loyalty.accounts.scopes import CLIENT_SCOPES
from loyalty.accounts.services import api_client_create
from loyalty.core.errors import DomainError


class Command(BaseCommand):
    help = "Create an API client for an account and print its id and secret (the secret is shown only now)."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="account id, e.g. T00000001")
        parser.add_argument("--name", required=True)
        parser.add_argument("--scopes", required=True, help=f"comma-separated, from: {', '.join(CLIENT_SCOPES)}")
        parser.add_argument("--json", action="store_true", dest="as_json", help='print {"client_id", "client_secret"}')

    def handle(self, *args, account, name, scopes, as_json: bool = False, **options):
        target = Account.objects.filter(aid=account).first()
        if target is None:
            raise CommandError(f"Account {account} does not exist; create it with create_account first.")
        try:
            client, secret = api_client_create(
                account=target,
                name=name,
                scopes=[s.strip() for s in scopes.split(",") if s.strip()],
                created_by="manage.py",
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if as_json:
            self.stdout.write(json.dumps({"client_id": client.client_id, "client_secret": secret}))
        else:
            self.stdout.write(f"client_id:     {client.client_id}")
            self.stdout.write(f"client_secret: {secret}")
            self.stdout.write(f"scopes:        {' '.join(client.scopes)}")
            self.stdout.write("Store the secret now: only its hash is kept.")
