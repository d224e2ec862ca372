"""Create the demo account, its staff login, demo receipts, segments and a discount rule (each only once)."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from discounts.services import rule_create
from loyalty.accounts.models import Account
from loyalty.accounts.services import account_upsert, staff_user_upsert
from receipts.models import Receipt
from receipts.services.bulk import receipts_load_parallel
from receipts.services.generator import GeneratedChunks, GeneratorSpec
from segments.services.segments import segment_create

DEMO_AID = "T00000001"
DEMO_USER = "demo"

DEMO_SEGMENTS = [
    {
        "name": "Regulars",
        "description": "Five or more purchases in the last 365 days, spending 200-800 NOK on average.",
        "parts": [
            {
                "criteria": [
                    {"type": "transaction_count_in_period", "min": 5, "fromDate": "{year_ago}", "toDate": "{today}"}
                ]
            },
            {"criteria": [{"type": "average_transaction_amount", "fromAmount": 200, "toAmount": 800}]},
        ],
    },
    {
        "name": "Lapsed big spenders",
        "description": "Spent 3,000 NOK or more, but nothing in the last 60 days.",
        "parts": [
            {"criteria": [{"type": "transaction_amount", "fromAmount": 3000}]},
            {"criteria": [{"type": "last_transaction_between_days", "fromDays": 60, "toDays": 3650}]},
        ],
    },
    {
        "name": "Birthdays this week",
        "description": "Customers whose birthday is in the next 7 days and who agreed to e-mail.",
        "parts": [
            {"criteria": [{"type": "anniversary", "anniversaryType": "birthday", "days": 7}]},
            {"criteria": [{"type": "marketing_consent", "channel": "email", "consent": True}]},
        ],
    },
]


class Command(BaseCommand):
    help = "Create the demo account T00000001, a staff login, demo receipts, segments and a rule (each once)."

    def add_arguments(self, parser):
        parser.add_argument("--receipts", type=int, default=20_000)
        parser.add_argument("--customers", type=int, default=2_000)

    def handle(self, *args, receipts: int, customers: int, **options):
        account = Account.objects.filter(aid=DEMO_AID).first()
        if account is None:
            account = account_upsert(aid=DEMO_AID, name="Demo Shop", currency="NOK", timezone_name="Europe/Oslo")
            self.stdout.write(f"demo: created account {DEMO_AID} (Demo Shop, NOK, Europe/Oslo)")
        if not get_user_model().objects.filter(username=DEMO_USER).exists():
            _, password = staff_user_upsert(account=account, username=DEMO_USER, role="owner")
            self.stdout.write(f"demo: staff login  username: {DEMO_USER}  password: {password}")
            self.stdout.write(
                "demo: (shown once; to reset: python manage.py create_staff_user --account T00000001 "
                "--username demo --role owner --password <new>)"
            )
        if not Receipt.objects.filter(account=account).exists():
            self.stdout.write(f"demo: generating {receipts:,} receipts of {customers:,} customers in 10 stores …")
            spec = GeneratorSpec(
                receipts=receipts, customers=customers, stores=10, days=365, items=800, groups=40, seed=1
            )
            result = receipts_load_parallel(account=account, source=GeneratedChunks(spec), created_by="demo")
            self.stdout.write(f"demo: {result.stored:,} receipts loaded in {result.seconds:.1f}s")
            self._demo_segments(account)
            self._demo_rule(account)
        else:
            self.stdout.write("demo: data already loaded")

    def _demo_segments(self, account: Account) -> None:
        today = timezone.localdate()
        values = {"{today}": today.isoformat(), "{year_ago}": (today - timedelta(days=365)).isoformat()}
        for definition in DEMO_SEGMENTS:
            parts = [
                {
                    "criteria": [
                        {k: values.get(v, v) if isinstance(v, str) else v for k, v in c.items()}
                        for c in part["criteria"]
                    ]
                }
                for part in definition["parts"]
            ]
            segment_create(account=account, data={**definition, "parts": parts}, actor="demo")
        self.stdout.write(f"demo: {len(DEMO_SEGMENTS)} segments created (the worker calculates them)")

    def _demo_rule(self, account: Account) -> None:
        now = timezone.now()
        rule_create(
            account=account,
            document={
                "name": "100 NOK off for regulars",
                "receipt_text": "Regulars' discount",
                "requirement": {
                    "purchase_from": now.isoformat(),
                    "purchase_to": (now + timedelta(days=90)).isoformat(),
                    "gross_amount": 50000,
                },
                "reward": {"type": "discount_amount", "value": 10000},
            },
            actor="demo",
        )
        self.stdout.write("demo: a discount rule created")
