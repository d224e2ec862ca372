"""The automations' raw SQL: events from receipt batches, matching events against automations, their deliveries.

Composed once at import with `psycopg.sql` from the models' `_meta`: in a template `{event}` is a model's table and
`{event.customer_id}` a field's column. Values always travel as parameters; run them on `raw_cursor()`.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from discounts.models import (
    Automation,
    AutomationDelivery,
    AutomationEvent,
    AutomationProfile,
    AutomationTrigger,
    CustomerToken,
)
from loyalty.core.sql import column, sql, table
from receipts.models import Customer, IngestBatch, Receipt

TABLES: dict[str, type[models.Model]] = {
    "event": AutomationEvent,
    "automation": Automation,
    "trigger": AutomationTrigger,
    "delivery": AutomationDelivery,
    "profile": AutomationProfile,
    "batch": IngestBatch,
    "receipt": Receipt,
    "customer": Customer,
    "token": CustomerToken,
}


def _parts() -> dict[str, Any]:
    parts: dict[str, Any] = {}
    for name, model in TABLES.items():
        parts[name] = table(model)
        for field in model._meta.concrete_fields:
            parts[f"{name}.{field.name}"] = column(model, field.name)
    return parts


def statement(template: str) -> str:
    return sql.SQL(template).format(**_parts()).as_string()


_EVENT_COLUMNS = """{event.account}, {event.key}, {event.subject}, {event.type}, {event.source}, {event.customer_id},
    {event.payload}, {event.occurred_at}, {event.received_at}"""

# One event per receipt of the API batches given: the receipt as stored, with its id. A batch's receipts are those
# created in its transaction (created_at is the transaction's now(), the batch's too), inside its purchase range.
RECEIPT_EVENTS = statement(
    f"""
    INSERT INTO {{event}} ({_EVENT_COLUMNS})
    SELECT r.{{receipt.account}}, 'receipt_add:' || r.{{receipt.uuid}}, 'receipt:' || r.{{receipt.uuid}}, 'receipt_add',
           'receipts', r.{{receipt.customer_id}}, r.{{receipt.document}} || jsonb_build_object('id', r.{{receipt.uuid}}),
           b.{{batch.created_at}}, %(now)s
    FROM {{batch}} b
    JOIN {{receipt}} r ON r.{{receipt.account}} = b.{{batch.account}}
        AND r.{{receipt.purchase_at}} BETWEEN b.{{batch.purchase_from}} AND b.{{batch.purchase_to}}
        AND r.{{receipt.created_at}} = b.{{batch.created_at}}
    WHERE b.{{batch.id}} = ANY(%(batches)s::bigint[]) AND b.{{batch.account}} = %(account)s
    ORDER BY r.{{receipt.id}}
    ON CONFLICT DO NOTHING
"""
)

# customer_add: the batch's customers created in its own transaction; the payload is their profile, their id and
# the store of their first receipt in it. Keyed by customer id: once per customer, whichever batch tells first.
CUSTOMER_ADD_EVENTS = statement(
    f"""
    INSERT INTO {{event}} ({_EVENT_COLUMNS})
    SELECT * FROM (
        SELECT DISTINCT ON (c.{{customer.id}}) c.{{customer.account}}, 'customer_add:' || c.{{customer.customer_id}},
               c.{{customer.customer_id}}, 'customer_add', 'receipts', c.{{customer.customer_id}},
               c.{{customer.profile}} || jsonb_build_object(
                   'customer_id', c.{{customer.customer_id}}, 'store', jsonb_build_object('id', r.{{receipt.store_id}})),
               b.{{batch.created_at}}, %(now)s::timestamptz
        FROM {{batch}} b
        JOIN {{customer}} c ON c.{{customer.id}} = ANY(b.{{batch.customer_pks}})
            AND c.{{customer.created_at}} >= b.{{batch.created_at}}
        JOIN {{receipt}} r ON r.{{receipt.customer_pk}} = c.{{customer.id}}
            AND r.{{receipt.created_at}} = b.{{batch.created_at}}
        WHERE b.{{batch.id}} = ANY(%(batches)s::bigint[]) AND b.{{batch.account}} = %(account)s
        ORDER BY c.{{customer.id}}, r.{{receipt.purchase_at}}, r.{{receipt.id}}
    ) added
    ON CONFLICT DO NOTHING
"""
)

# customer_update: a customer of these batches whose profile differs from the one automations last saw. The first
# sight of a profile only records it; the xmax of an upserted row tells an update (non-zero) from an insert.
CUSTOMER_UPDATE_EVENTS = statement(
    f"""
    WITH touched AS (
        SELECT DISTINCT ON (c.{{customer.id}}) c.{{customer.id}} AS pk, c.{{customer.customer_id}} AS customer_id,
               c.{{customer.profile}} AS profile, md5(c.{{customer.profile}}::text) AS digest,
               b.{{batch.id}} AS batch_id, b.{{batch.created_at}} AS at
        FROM {{batch}} b JOIN {{customer}} c ON c.{{customer.id}} = ANY(b.{{batch.customer_pks}})
        WHERE b.{{batch.id}} = ANY(%(batches)s::bigint[]) AND b.{{batch.account}} = %(account)s
        ORDER BY c.{{customer.id}}, b.{{batch.id}} DESC
    ), seen AS (
        INSERT INTO {{profile}} ({{profile.customer_pk}}, {{profile.account}}, {{profile.digest}})
        SELECT pk, %(account)s, digest FROM touched
        ON CONFLICT ({{profile.customer_pk}}) DO UPDATE SET {{profile.digest}} = EXCLUDED.{{profile.digest}}
            WHERE {{profile}}.{{profile.digest}} <> EXCLUDED.{{profile.digest}}
        RETURNING {{profile.customer_pk}} AS pk, NOT (xmax = 0) AS changed
    )
    INSERT INTO {{event}} ({_EVENT_COLUMNS})
    SELECT %(account)s, 'customer_update:' || t.customer_id || ':' || t.batch_id, NULL, 'customer_update', 'receipts',
           t.customer_id, t.profile || jsonb_build_object('customer_id', t.customer_id), t.at, %(now)s
    FROM seen s JOIN touched t ON t.pk = s.pk
    WHERE s.changed
    ON CONFLICT DO NOTHING
"""
)

# The automations an event is for: live, listening to its type, with the event inside their window and the filter
# matching its payload (a malformed comparison counts as no match: the silent flag).
_MATCHES = """
    {automation} a ON a.{automation.account} = %(account)s AND a.{automation.deleted_at} IS NULL
        AND e.{event.type} = ANY(a.{automation.events})
        AND e.{event.occurred_at} >= a.{automation.automation_from} AND e.{event.occurred_at} < a.{automation.automation_to}
"""
_FILTER = """(a.{automation.condition} = ''
        OR coalesce(jsonb_path_match(e.{event.payload}, a.{automation.condition}::jsonpath,
                                     a.{automation.condition_vars}, true), false))"""

# Counts the events each automation saw (its type, its window), filter or not: the page's live counter.
COUNT_SEEN = statement(
    f"""
    UPDATE {{automation}} a SET {{automation.events_seen}} = a.{{automation.events_seen}} + seen.n
    FROM (
        SELECT a.{{automation.id}} AS id, count(*) AS n
        FROM {{event}} e JOIN {_MATCHES}
        WHERE e.{{event.id}} = ANY(%(events)s::bigint[])
        GROUP BY a.{{automation.id}}
    ) seen
    WHERE a.{{automation.id}} = seen.id
"""
)

# A trigger per (automation, event) whose customer has not reached automation_repeat. Occurrences number on from
# the customer's last one; the unique (automation, customer, occurrence) refuses what a concurrent writer numbered
# the same, and (automation, event) what was already triggered.
TRIGGERS = statement(
    f"""
    WITH matched AS (
        SELECT a.{{automation.id}} AS automation_id, a.{{automation.repeat}} AS repeat, e.{{event.id}} AS event_id,
               e.{{event.customer_id}} AS customer_id,
               row_number() OVER (PARTITION BY a.{{automation.id}}, e.{{event.customer_id}} ORDER BY e.{{event.id}}) AS n
        FROM {{event}} e JOIN {_MATCHES} AND {_FILTER}
        WHERE e.{{event.id}} = ANY(%(events)s::bigint[]) AND e.{{event.customer_id}} IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {{trigger}} done
                          WHERE done.{{trigger.automation}} = a.{{automation.id}} AND done.{{trigger.event}} = e.{{event.id}})
    ), numbered AS (
        SELECT m.*, m.n + coalesce((
            SELECT max(t.{{trigger.occurrence}}) FROM {{trigger}} t
            WHERE t.{{trigger.automation}} = m.automation_id AND t.{{trigger.customer_id}} = m.customer_id), 0
        ) AS occurrence
        FROM matched m
    )
    INSERT INTO {{trigger}} ({{trigger.account}}, {{trigger.automation}}, {{trigger.event}}, {{trigger.customer_id}},
                             {{trigger.occurrence}}, {{trigger.created_at}})
    SELECT %(account)s, automation_id, event_id, customer_id, occurrence, %(now)s
    FROM numbered WHERE repeat = -1 OR occurrence <= repeat
    ON CONFLICT DO NOTHING
    RETURNING {{trigger.id}}
"""
)

COUNT_TRIGGERED = statement(
    """
    UPDATE {automation} a SET {automation.triggered} = a.{automation.triggered} + fired.n
    FROM (SELECT {trigger.automation} AS id, count(*) AS n FROM {trigger} WHERE {trigger.id} = ANY(%(triggers)s::bigint[])
          GROUP BY {trigger.automation}) fired
    WHERE a.{automation.id} = fired.id
"""
)

# One delivery per action of each new trigger, in the automation's order.
DELIVERIES = statement(
    """
    INSERT INTO {delivery} ({delivery.account}, {delivery.automation}, {delivery.trigger}, {delivery.action_index},
                            {delivery.kind}, {delivery.status}, {delivery.attempts}, {delivery.error},
                            {delivery.created_at}, {delivery.updated_at})
    SELECT %(account)s, t.{trigger.automation}, t.{trigger.id}, action.n - 1, action.value ->> 'type', 'pending', 0, '',
           %(now)s, %(now)s
    FROM {trigger} t
    JOIN {automation} a ON a.{automation.id} = t.{trigger.automation}
    CROSS JOIN LATERAL jsonb_array_elements(a.{automation.document} -> 'actions') WITH ORDINALITY AS action(value, n)
    WHERE t.{trigger.id} = ANY(%(triggers)s::bigint[])
    ON CONFLICT DO NOTHING
    RETURNING {delivery.id}
"""
)

EVENTS_DONE = statement(
    "UPDATE {event} SET {event.processed_at} = %(now)s WHERE {event.id} = ANY(%(events)s::bigint[])"
)

# A posted event in one statement: stored once (the unique keys; nothing is returned for a repeat), and stored
# already processed when no live automation of the account listens to its type. → (some automation listens)
_EVENT_INSERT = """
    INSERT INTO {event} ({event.account}, {event.key}, {event.subject}, {event.type}, {event.source},
                         {event.customer_id}, {event.payload}, {event.occurred_at}, {event.received_at},
                         {event.processed_at})
    SELECT %(account)s::int, %(key)s::text, %(subject)s::text, %(type)s::text, 'api', %(customer)s::text,
           %(payload)s::jsonb, %(now)s::timestamptz, %(now)s::timestamptz,
           CASE WHEN EXISTS (
               SELECT 1 FROM {automation} a
               WHERE a.{automation.account} = %(account)s::int AND a.{automation.deleted_at} IS NULL
                 AND a.{automation.automation_to} > %(now)s::timestamptz
                 AND %(type)s::text = ANY(a.{automation.events})
           ) THEN NULL ELSE %(now)s::timestamptz END
    ON CONFLICT DO NOTHING
    RETURNING {event.processed_at} IS NULL AS listened
"""
EVENT_RECEIVE = statement(_EVENT_INSERT)

# A token event and its change of the token store (the (type, value) → customer map) in one statement: the token
# changes only when the event is new (a repeat returns nothing and changes nothing). → (some automation listens)
TOKEN_ADD_RECEIVE = statement(
    f"""
    WITH event AS ({_EVENT_INSERT}),
    token AS (
        INSERT INTO {{token}} ({{token.account}}, {{token.token_type}}, {{token.value}}, {{token.token_id}},
                               {{token.customer_id}}, {{token.created_at}}, {{token.updated_at}})
        SELECT %(account)s::int, %(token_type)s::text, %(value)s::text, %(token_id)s::text, %(customer)s::text,
               %(now)s::timestamptz, %(now)s::timestamptz
        FROM event
        ON CONFLICT ({{token.account}}, {{token.token_type}}, {{token.value}}) DO UPDATE
        SET {{token.token_id}} = EXCLUDED.{{token.token_id}}, {{token.customer_id}} = EXCLUDED.{{token.customer_id}},
            {{token.updated_at}} = EXCLUDED.{{token.updated_at}})
    SELECT listened FROM event
"""
)

# A remove for a token that meanwhile belongs to someone else (a late delivery) leaves it alone.
TOKEN_REMOVE_RECEIVE = statement(
    f"""
    WITH event AS ({_EVENT_INSERT}),
    token AS (
        DELETE FROM {{token}}
        WHERE {{token.account}} = %(account)s::int AND {{token.token_type}} = %(token_type)s::text
          AND {{token.value}} = %(value)s::text AND {{token.customer_id}} = %(customer)s::text
          AND EXISTS (SELECT 1 FROM event))
    SELECT listened FROM event
"""
)

# Old processed events that triggered nothing, a chunk at a time (the sweep runs every minute).
EVENTS_FORGET = statement(
    """
    DELETE FROM {event} WHERE {event.id} IN (
        SELECT e.{event.id} FROM {event} e
        WHERE e.{event.received_at} < %(before)s AND e.{event.processed_at} IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {trigger} t WHERE t.{trigger.event} = e.{event.id})
        LIMIT %(limit)s
    )
"""
)
