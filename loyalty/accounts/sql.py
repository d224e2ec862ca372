"""The accounts app's raw SQL: the one statement every API request with a client's token runs.

Built with `psycopg.sql` from the models' `_meta` (see `loyalty/core/sql.py`); values travel as parameters.
"""

from __future__ import annotations

from loyalty.accounts.models import Account, ApiClient
from loyalty.core.sql import column, sql, table

ACCOUNT_FIELDS = [field.attname for field in Account._meta.concrete_fields]

# The account `%(aid)s` with every column (in the model's order) when `%(client)s` is one of its active clients; no
# row when the client is revoked, unknown or another account's. The unique client_id index finds the client.
ACTIVE_CLIENT_ACCOUNT = sql.SQL(
    """
    SELECT {account_columns}
    FROM {client_table} client JOIN {account_table} account ON account.{account_id} = client.{client_account}
    WHERE client.{client_id} = %(client)s::text AND client.{client_active} AND account.{aid} = %(aid)s::text
"""
).format(
    account_columns=sql.SQL(", ").join(
        sql.SQL("account.{}").format(column(Account, f.name)) for f in Account._meta.concrete_fields
    ),
    client_table=table(ApiClient),
    account_table=table(Account),
    account_id=column(Account, "id"),
    client_account=column(ApiClient, "account"),
    client_id=column(ApiClient, "client_id"),
    client_active=column(ApiClient, "active"),
    aid=column(Account, "aid"),
)
