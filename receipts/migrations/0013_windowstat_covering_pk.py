"""Window stats read index-only: the primary key (window, customer) also carries the counters (issue 21).

A criterion over a purchase window ("≥ 5 purchases in the last 90 days") reads one window's rows through the
primary key and compares `purchases` or a total. Read through the heap that was one buffer visit per row, ~80 ms of
a definition's pass per window criterion at 200,000 customers; index-only it is ~14 ms (2026-12-05, 5M receipts:
the 10-criterion preview's statement 475 → 340 ms). No second index: updates of a row already leave its page
(the rows are written packed), so they insert into the key anyway. Rebuilt in place: ~0.2 s at 360,000 rows,
during which ingests wait.
"""

from django.db import migrations

TABLE = "receipts_windowstat"
KEY = "receipts_windowstat_pkey"


def _primary_key(include: str) -> str:
    return (
        f"ALTER TABLE {TABLE} DROP CONSTRAINT {KEY}, "
        f"ADD CONSTRAINT {KEY} PRIMARY KEY (window_id, customer_pk){include}"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("receipts", "0012_customer_criteria_index"),
    ]

    operations = [
        migrations.RunSQL(
            _primary_key(" INCLUDE (purchases, net_total, gross_total)"),
            reverse_sql=_primary_key(""),
        ),
    ]
