"""Segment criteria read customers index-only: the counters index also carries every column a profile criterion
compares (issue 21).

The `profile` JSONB makes a customer row ~1 kB, so the one pass a definition makes over an account's customers read
~1 kB per customer. Moving the JSONB out of line is not possible by settings: PostgreSQL only toasts rows above
~2 kB (TOAST_TUPLE_THRESHOLD, compile time), whatever `toast_tuple_target` says, and these rows are 0.9 kB at most.
Built before the old index is dropped; the build took 45 ms at 20,000 customers (~0.5-1 s at 200,000), during
which ingests wait for it.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_api_clients_without_user_scopes"),
        ("receipts", "0011_windowstat_no_fk"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                fields=["account", "id"],
                include=(
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
                ),
                name="customer_criteria",
            ),
        ),
        migrations.RemoveIndex(model_name="customer", name="customer_counters"),
    ]
