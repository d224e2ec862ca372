from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from loyalty.accounts.models import Account
from loyalty.accounts.scopes import Role
from loyalty.accounts.services import staff_user_upsert


class Command(BaseCommand):
    help = "Create a staff user in an account (or change their role there); prints a generated password."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True)
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", choices=Role.values, default=Role.EDITOR)
        parser.add_argument("--password", help="set this password instead of generating one")

    def handle(self, *args, account, username, role, password, **options):
        target = Account.objects.filter(aid=account).first()
        if target is None:
            raise CommandError(f"Account {account} does not exist; create it with create_account first.")
        try:
            user, generated = staff_user_upsert(account=target, username=username, role=role, password=password)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"{user.username} is {role} of {target.aid}")
        if generated:
            self.stdout.write(f"password: {generated}")
