from django.core.management.base import BaseCommand, CommandError

from loyalty.accounts.models import Account
from receipts.services.bulk import BulkResult, LoaderFailed, receipts_load_parallel
from receipts.services.generator import GeneratedChunks, GeneratorSpec


class Command(BaseCommand):
    help = (
        "Generate realistic receipts for an account (bulk COPY by loader processes; the same parameters, "
        "--processes included, give the same data)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True)
        parser.add_argument("--receipts", type=int, default=20_000)
        parser.add_argument("--customers", type=int, default=2_000)
        parser.add_argument("--stores", type=int, default=10)
        parser.add_argument("--days", type=int, default=365)
        parser.add_argument("--items", type=int, default=2_000)
        parser.add_argument("--groups", type=int, default=100)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--prefix", default="", help="receipt id prefix, to generate more data with a used seed")
        parser.add_argument("--processes", type=int, default=2, help="loader processes, each generating its chunks")

    def handle(self, *args, **options):
        account = Account.objects.filter(aid=options["account"]).first()
        if account is None:
            raise CommandError(f"Account {options['account']} does not exist; create it with create_account first.")
        for name in ("receipts", "customers", "stores", "days", "items", "groups", "processes"):
            if options[name] < (0 if name in ("receipts", "customers") else 1):
                raise CommandError(f"--{name} must be positive")
        spec = GeneratorSpec(
            receipts=options["receipts"],
            customers=options["customers"],
            stores=options["stores"],
            days=options["days"],
            seed=options["seed"],
            items=options["items"],
            groups=options["groups"],
            prefix=options["prefix"],
        )

        def progress(result: BulkResult) -> None:
            if options["verbosity"] >= 1:
                self.stdout.write(f"  {result.stored:,} stored, {result.duplicates:,} duplicates, {result.rate:,.0f}/s")

        try:
            result = receipts_load_parallel(
                account=account,
                source=GeneratedChunks(spec),
                created_by="generator",
                processes=options["processes"],
                progress=progress,
            )
        except LoaderFailed as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{account.aid}: {result.stored:,} receipts stored ({result.duplicates:,} duplicates) "
            f"in {result.seconds:.1f}s, {result.rate:,.0f} receipts/s"
        )
