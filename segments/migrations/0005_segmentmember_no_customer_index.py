# "Is this customer in the published version" is a lookup of the primary key (segment, version, customer); the
# customer index only cost writing each version (~40 % of inserting 116,000 members). Django plans this AlterField as
# a no-op for a field inside a composite primary key, so the SQL is explicit (as in 0003).

import django.db.models.deletion
from django.db import migrations, models

DROP_CUSTOMER_INDEX = """
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT indexrelid::regclass::text AS name FROM pg_index
             WHERE indrelid = 'segments_segmentmember'::regclass AND NOT indisprimary LOOP
        EXECUTE format('DROP INDEX %s', r.name);
    END LOOP;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0004_run_lists"),
    ]

    operations = [
        migrations.RunSQL(
            DROP_CUSTOMER_INDEX,
            reverse_sql=migrations.RunSQL.noop,
            state_operations=[
                migrations.AlterField(
                    model_name="segmentmember",
                    name="customer",
                    field=models.ForeignKey(
                        db_column="customer_pk",
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="receipts.customer",
                    ),
                ),
            ],
        ),
    ]
