"""Receipts, customer profiles and the read models segmentation uses.

Storage design (figures in ../README.md "Performance" and tests/bench/results/latest.md):

- `Receipt` keeps the posted document losslessly as JSONB plus a few extracted, indexed columns. Only three
  indexes take writes: the primary key, the idempotency key (account, receipt_id, store_id) and (account,
  purchase_at); customer receipt lists and the impact report use (customer, purchase_at), which also carries a
  purchase's account, kind and net. Receipt lines stay inside the document: nothing reads them by column, and a
  20M-row line table with its indexes cut ingest 3-7x in the measurements.
- `ItemFact` is the segmentation read model for "bought what / where": one row per (purchase receipt of a known
  customer, code), where a code is an integer from `ItemCode` for an item id, a group id, a line label
  (dimension key=value), a maker/brand or the store. One btree, (account, code, purchase_at) INCLUDE (store,
  customer, receipt), answers item, group, label, maker and store criteria with index-only scans.
- `Customer` is the per-customer table aggregate criteria read (lifetime counters, first/last purchase), and the
  profile (latest customer object seen). It is maintained set-based in the ingest transaction. Segments read it
  index-only through `customer_criteria`, which includes every column a criterion compares: the rows are ~1 kB
  (the `profile` JSONB, kept inline since rows under ~2 kB are never toasted), the index entries ~100 bytes.
- `PurchaseWindow`/`WindowStat` hold per-customer purchase counts and sums for the date windows segments use, so
  "count / amount in period" criteria read a small table instead of aggregating millions of receipts every time.
- `CodeBuyer` holds, for the codes lifetime criteria and whole-history `customer_segment` questions use, who ever
  bought them and how often (one row per customer instead of one per purchase).
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, Now

from loyalty.accounts.models import Account

# A receipt counts as a purchase unless its entry_status is one of these.
NON_PURCHASE_STATUSES = ("Voided", "Cancelled", "Training")


class Customer(models.Model):
    id = models.AutoField(primary_key=True)  # int4 keeps the read models' index entries small
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="customers", db_index=False)
    customer_id = models.CharField(max_length=255, db_collation="C")

    # profile: the `customer` object of the customer's most recent receipt (by purchase_at) that had one
    profile = models.JSONField(default=dict)
    profile_at = models.DateTimeField(null=True)
    first_name = models.TextField(blank=True, default="")
    last_name = models.TextField(blank=True, default="")
    email = models.TextField(blank=True, default="")
    phone = models.TextField(blank=True, default="")
    gender = models.TextField(blank=True, default="")
    date_of_birth = models.DateField(null=True)
    status = models.TextField(blank=True, default="")
    countries = ArrayField(models.TextField(), default=list)  # lower-cased, from customer.addresses
    cities = ArrayField(models.TextField(), default=list)
    postal_codes = ArrayField(models.TextField(), default=list)
    token_values = ArrayField(models.TextField(), default=list)
    email_consent = models.BooleanField(null=True)
    sms_consent = models.BooleanField(null=True)

    # lifetime counters over purchase receipts (see NON_PURCHASE_STATUSES); amounts in minor units
    receipts_count = models.IntegerField(default=0)
    purchases = models.IntegerField(default=0)
    gross_total = models.BigIntegerField(default=0)
    net_total = models.BigIntegerField(default=0)
    first_purchase_at = models.DateTimeField(null=True)
    last_purchase_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "customer_id"], name="customer_unique_per_account"),
        ]
        indexes = [
            models.Index(fields=["account", "-last_purchase_at"], name="customer_recent"),
            # Segment criteria read customers through this, index-only: every column a counter or profile
            # criterion compares is included, so a definition's one pass over an account's customers reads ~100-byte
            # index entries instead of ~1 kB heap rows (the `profile` JSONB stays inline: rows are below the ~2 kB
            # at which PostgreSQL moves values out of line, whatever toast_tuple_target says). Counters alone made
            # the aggregate segment 3x faster at 5M receipts; the profile columns cut the 10-criterion preview's
            # pass by a third (issue 21). Customer updates are never HOT (the counters are indexed), so the wider
            # entries cost ingest bytes, not index insertions.
            models.Index(
                fields=["account", "id"],
                include=[
                    "purchases",
                    "net_total",
                    "gross_total",
                    "first_purchase_at",
                    "last_purchase_at",
                    "gender",
                    "date_of_birth",
                    "status",
                    "email_consent",
                    "sms_consent",
                    "countries",
                    "cities",
                    "postal_codes",
                    "token_values",
                ],
                name="customer_criteria",
            ),
            # Staff and list criteria look customers up by e-mail and phone.
            models.Index(fields=["account", "email"], condition=~models.Q(email=""), name="customer_email"),
            models.Index(fields=["account", "phone"], condition=~models.Q(phone=""), name="customer_phone"),
        ]

    def __str__(self) -> str:
        return self.customer_id

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or self.customer_id


class Receipt(models.Model):
    id = models.BigAutoField(primary_key=True)
    # The Entity id (time-ordered v7). Deliberately not indexed on its own: every lookup by it is narrowed first
    # (a customer's receipts), and an index more on a 5M-row table costs every ingest.
    uuid = models.UUIDField()
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="receipts", db_index=False)
    # "C" collation: ids compare bytewise, and their btrees build and search faster than under a locale
    receipt_id = models.CharField(max_length=255, db_collation="C")
    store_id = models.CharField(max_length=255, db_collation="C")
    # `customer_id` is the POS's text id (as in the API); `customer_pk` the profile row it resolves to
    customer_id = models.CharField(max_length=255, null=True, db_collation="C")
    customer_pk = models.ForeignKey(
        Customer, null=True, on_delete=models.SET_NULL, related_name="receipts", db_column="customer_pk", db_index=False
    )
    purchase_at = models.DateTimeField()
    currency = models.CharField(max_length=3, blank=True, default="")
    gross_amount = models.BigIntegerField(null=True)
    net_amount = models.BigIntegerField(null=True)
    entry_status = models.CharField(max_length=32, blank=True, default="")
    is_purchase = models.BooleanField()
    item_count = models.IntegerField(default=0)
    document = models.JSONField()
    created_at = models.DateTimeField(db_default=Now())
    created_by = models.CharField(max_length=255, blank=True, default="")
    updated_at = models.DateTimeField(db_default=Now())
    # When the receipt's tokens were spent: by a claim, or by any change of customer (a token belongs to the
    # customer it was minted for, and a move must not leave an earlier owner able to read or claim the receipt).
    token_claimed_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "receipt_id", "store_id"], name="receipt_unique_pos_id"),
        ]
        indexes = [
            models.Index(fields=["account", "purchase_at"], name="receipt_account_time"),
            # A customer's receipts by time; it carries what a purchase's amount needs, so the impact report reads
            # 100,000 customers' purchases as an index-only scan instead of a heap fetch per receipt (seconds).
            models.Index(
                fields=["customer_pk", "purchase_at", "id"],
                include=["account", "is_purchase", "net_amount"],
                name="receipt_customer_time",
            ),
            # The back-office search: ids by prefix in any case (`lower(col) LIKE 'prefix%'`), an index range scan
            # at millions of receipts; text_pattern_ops serves LIKE whatever the collation.
            models.Index(
                F("account"), OpClass(Lower("receipt_id"), name="text_pattern_ops"), name="receipt_id_lower_prefix"
            ),
            models.Index(
                F("account"),
                OpClass(Lower("customer_id"), name="text_pattern_ops"),
                name="receipt_customer_lower_prefix",
                condition=Q(customer_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store_id}/{self.receipt_id}"


class ItemCode(models.Model):
    """Dictionary encoding: the read model stores int codes instead of text ids."""

    class Kind(models.TextChoices):
        ITEM = "item"
        GROUP = "group"
        LABEL = "label"  # "<dimension key>=<value>", lower-cased
        MAKER = "maker"  # lower-cased
        STORE = "store"

    id = models.AutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.TextField(db_collation="C")
    name = models.TextField(blank=True, default="")  # a display name seen in receipts (group names)
    # Whether its lifetime buyers (CodeBuyer) are kept: since when (None: not kept), and when a segment last used them
    buyers_since = models.DateTimeField(null=True)
    buyers_used_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "value"], name="item_code_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=["item", "group", "label", "maker", "store"]), name="item_code_kind"
            ),
        ]
        # every ingest asks which codes' buyers are kept: a few rows, not a scan of the whole catalogue
        indexes = [models.Index(fields=["account"], condition=Q(buyers_since__isnull=False), name="item_code_kept")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class ItemFact(models.Model):
    """One row per (purchase receipt with a customer, code).

    The primary key is the lookup index itself: (account, code, purchase_at, store, customer, receipt), so a row
    costs one index entry and every criterion is answered from the index alone. Foreign keys are declared for the
    ORM but not enforced by the database: the ingest service writes these rows from rows it has just written, and
    per-row FK checks were the largest ingest cost in the measurements.
    """

    pk = models.CompositePrimaryKey("account", "code", "purchase_at", "store_code", "customer", "receipt")
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    code = models.ForeignKey(
        ItemCode, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False, db_column="code"
    )
    purchase_at = models.DateTimeField()
    store_code = models.IntegerField()
    customer = models.ForeignKey(
        Customer,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
        db_column="customer_pk",
    )
    receipt = models.ForeignKey(
        Receipt,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
        db_column="receipt_pk",
    )

    def __str__(self) -> str:
        return f"code {self.code_id} on receipt {self.receipt_id}"


class CodeBuyer(models.Model):
    """A customer who ever bought a code (one of their purchases has an ItemFact with it), kept for the codes that
    criteria without a period ask about ("bought from group G", ever).

    Answering those from the facts de-duplicates every fact of the code on every evaluation: for the most popular
    group at 5M receipts, 1.3M facts into 180k customers, ~550 ms of a preview. The first use of a code builds its
    rows (`receipts.readmodels.buyers`); every ingest then counts its purchases in, in the same transaction, and a
    receipt moving between customers moves one purchase, so the rows are exact at every commit. Codes nobody used
    lately are dropped, as purchase windows are.

    `purchases` counts the customer's purchase receipts with the code (its facts), and `customer_external_id` is
    the customer's own id (Customer.customer_id, which never changes), so that a question about a code's whole
    history (`customer_segment` for one code over a period holding all of its facts: "who bought from group G, how
    often, most first") is one ordered index-only read of `code_buyer_most_purchases`: no fact counted, no join to
    the customers, no sort. For the most popular group at 5M receipts: 180k index entries, ~90 ms with the JSON,
    where counting its 1.3M facts, joining and sorting takes ~600 ms.
    """

    pk = models.CompositePrimaryKey("account", "code", "customer")
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    code = models.ForeignKey(
        ItemCode, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False, db_column="code"
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
        db_column="customer_pk",
    )
    customer_external_id = models.CharField(max_length=255, db_collation="C")
    purchases = models.IntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(purchases__gt=0), name="code_buyer_bought"),
        ]
        indexes = [
            models.Index(
                fields=["account", "code", "-purchases", "customer_external_id"], name="code_buyer_most_purchases"
            ),
        ]

    def __str__(self) -> str:
        return f"customer {self.customer_id} bought code {self.code_id} {self.purchases} times"


class PurchaseWindow(models.Model):
    """A date window some segment counts purchases in; its WindowStat rows are kept current at ingest."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    starts_at = models.DateTimeField(null=True)
    ends_at = models.DateTimeField(null=True)  # exclusive; null = open-ended
    created_at = models.DateTimeField(db_default=Now())
    last_used_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "starts_at", "ends_at"], name="purchase_window_unique", nulls_distinct=False
            ),
        ]

    def __str__(self) -> str:
        return f"purchases from {self.starts_at or 'the beginning'} until {self.ends_at or 'now'}"


class WindowStat(models.Model):
    # The key's index also carries the counters (INCLUDE, migration 0013): criteria read a window index-only.
    pk = models.CompositePrimaryKey("window", "customer")
    # No foreign key constraint in the database: rows are written only by the windows' code, for a window it created
    # or found under the windows lock, and deleted with their window; the deferred per-row check at commit was a
    # third of deriving a year's window (a new day's first run).
    window = models.ForeignKey(
        PurchaseWindow, on_delete=models.CASCADE, related_name="stats", db_index=False, db_constraint=False
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
        db_column="customer_pk",
    )
    purchases = models.IntegerField()
    net_total = models.BigIntegerField()
    gross_total = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.purchases} purchases"


class IngestBatch(models.Model):
    """One row per stored batch, written in the batch's transaction: the outbox other apps react to."""

    class Source(models.TextChoices):
        API = "api"
        IMPORT = "import"
        CHANGE = "change"  # a receipt moved between customers or was claimed

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    source = models.CharField(max_length=8, choices=Source.choices)
    created_at = models.DateTimeField(db_default=Now())
    created_by = models.CharField(max_length=255, blank=True, default="")
    received = models.IntegerField()
    stored = models.IntegerField()
    duplicates = models.IntegerField()
    customer_pks = ArrayField(models.IntegerField(), default=list)
    # The receipts this batch stored (or changed), so a reader of the outbox can find them exactly: primary keys are
    # drawn per batch but concurrent batches interleave, so a range would not do.
    receipt_pks = ArrayField(models.BigIntegerField(), default=list)
    # Those of them whose document has `discounts` (the discount refs they used): the ones usage is read from, so a
    # reader need not open every document of a batch to find out.
    discounted_pks = ArrayField(models.BigIntegerField(), default=list)
    purchase_from = models.DateTimeField(null=True)
    purchase_to = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["account", "id"], name="ingest_batch_account")]

    def __str__(self) -> str:
        return f"{self.source} batch of {self.stored} receipts"


# --- a bulk load's read-model deltas, staged until the load ends ------------------------------------------------------


class StagedChunk(models.Model):
    """A chunk of a bulk load (`import_receipts`, the generator, the benchmark's dataset) whose receipts are stored
    and whose read models are not built yet: what its receipts add to them, as parallel arrays (one row per chunk
    costs a fraction of a row per fact), and its IngestBatch row. When the load ends, one transaction moves every
    staged chunk of the account into the read models set-based (receipts.services.deferred). Logged, like the
    receipts: a load that dies leaves its chunks for the account's next load to build.
    """

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(
        Account, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    # the IngestBatch row
    source = models.CharField(max_length=8)
    created_by = models.CharField(max_length=255, blank=True, default="")
    received = models.IntegerField()
    stored = models.IntegerField()
    duplicates = models.IntegerField()
    customer_pks = ArrayField(models.IntegerField(), default=list)
    purchase_from = models.DateTimeField(null=True)
    purchase_to = models.DateTimeField(null=True)
    receipt_pks = ArrayField(models.BigIntegerField(), default=list)
    discounted_pks = ArrayField(models.BigIntegerField(), default=list)
    # item facts: (code, purchase_at, store code, customer, receipt) at each index
    fact_codes = ArrayField(models.IntegerField())
    fact_times = ArrayField(models.DateTimeField())
    fact_stores = ArrayField(models.IntegerField())
    fact_customers = ArrayField(models.IntegerField())
    fact_receipts = ArrayField(models.BigIntegerField())
    # purchases of known customers, for the purchase windows (window builds meanwhile leave these receipts out)
    purchase_receipts = ArrayField(models.BigIntegerField())
    purchase_customers = ArrayField(models.IntegerField())
    purchase_times = ArrayField(models.DateTimeField())
    purchase_nets = ArrayField(models.BigIntegerField(null=True))
    purchase_grosses = ArrayField(models.BigIntegerField(null=True))
    # per customer: counters to add, and the receipt whose customer object is their latest in the chunk (its purchase
    # time and its rank in the load, which orders receipts at one instant as successive chunks would)
    delta_customers = ArrayField(models.IntegerField())
    delta_receipts = ArrayField(models.IntegerField())
    delta_purchases = ArrayField(models.IntegerField())
    delta_grosses = ArrayField(models.BigIntegerField())
    delta_nets = ArrayField(models.BigIntegerField())
    delta_first_at = ArrayField(models.DateTimeField(null=True))
    delta_last_at = ArrayField(models.DateTimeField(null=True))
    profile_at = ArrayField(models.DateTimeField(null=True))
    profile_ranks = ArrayField(models.BigIntegerField(null=True))
    profile_receipts = ArrayField(models.BigIntegerField(null=True))

    def __str__(self) -> str:
        return f"staged chunk of {self.stored} receipts"
