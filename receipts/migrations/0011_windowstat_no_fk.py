# A window's stat rows are written only by the windows' code (receipts.readmodels.windows and the ingests) and
# deleted with their window; the deferred per-row foreign key check at commit was a third of deriving a window.
# Django plans this AlterField as a no-op for a field inside a composite primary key, so the SQL is explicit.

import django.db.models.deletion
from django.db import migrations, models

DROP_FK = """
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'receipts_windowstat'::regclass AND contype = 'f' LOOP
        EXECUTE format('ALTER TABLE receipts_windowstat DROP CONSTRAINT %I', r.conname);
    END LOOP;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("receipts", "0010_impact_index"),
    ]

    operations = [
        migrations.RunSQL(
            DROP_FK,
            reverse_sql=migrations.RunSQL.noop,
            state_operations=[
                migrations.AlterField(
                    model_name="windowstat",
                    name="window",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="stats",
                        to="receipts.purchasewindow",
                    ),
                ),
            ],
        ),
    ]
