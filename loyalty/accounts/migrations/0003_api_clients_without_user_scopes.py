"""`user:*` scopes act for one customer (customer tokens), so API clients no longer hold them: take them off every
client; a client left with no scope is revoked (it could do nothing)."""

from django.db import migrations
from django.utils import timezone

USER_SCOPES = ["user:receipts", "user:discounts"]  # frozen here: a migration never imports the live catalogue


def remove_user_scopes(apps, schema_editor):
    ApiClient = apps.get_model("accounts", "ApiClient")
    for client in ApiClient.objects.filter(scopes__overlap=USER_SCOPES):
        client.scopes = [scope for scope in client.scopes if scope not in USER_SCOPES]
        fields = ["scopes"]
        if not client.scopes and client.active:
            client.active = False
            client.revoked_at = timezone.now()
            fields += ["active", "revoked_at"]
        client.save(update_fields=fields)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_created_at_read_only")]

    operations = [migrations.RunPython(remove_user_scopes, migrations.RunPython.noop)]
