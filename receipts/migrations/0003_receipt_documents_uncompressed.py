"""Receipt rows up to a page (8 kB) keep their document inline and uncompressed.

By default PostgreSQL compresses a row's JSONB once the row passes ~2 kB (about half the receipts): pglz was ~9 % of
the server's CPU when importing into 5M receipts, for a ~20 % smaller table. Only rows written from now on are
affected.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("receipts", "0002_customer_read_indexes")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE receipts_receipt SET (toast_tuple_target = 8160)",
            reverse_sql="ALTER TABLE receipts_receipt RESET (toast_tuple_target)",
        )
    ]
