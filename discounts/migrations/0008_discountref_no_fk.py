# Refs are written only by discounts.services under the rule's row lock; the per-row foreign key checks were ~40 % of
# giving a segment's members a rule (see DiscountRef in discounts/models). Django plans this AlterField as a no-op
# here, so the SQL is explicit (as in segments 0003).

import django.db.models.deletion
from django.db import migrations, models

DROP_FKS = """
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'discounts_discountref'::regclass AND contype = 'f' LOOP
        EXECUTE format('ALTER TABLE discounts_discountref DROP CONSTRAINT %I', r.conname);
    END LOOP;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_api_clients_without_user_scopes"),
        ("discounts", "0007_automation_retention"),
    ]

    operations = [
        migrations.RunSQL(
            DROP_FKS,
            reverse_sql=migrations.RunSQL.noop,
            state_operations=[
                migrations.AlterField(
                    model_name="discountref",
                    name="account",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="discountref",
                    name="rule",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="refs",
                        to="discounts.discountrule",
                    ),
                ),
            ],
        ),
    ]
