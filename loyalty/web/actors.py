"""Who did something, in the words people use: the stored actor ids (an API client's client_id, `user:<name>`,
`segment:<uuid>`) become "API client “POS”", "demo", "segment “Regulars”". One query per kind for a whole page."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from loyalty.accounts.models import Account
from loyalty.accounts.selectors import api_clients_of_account
from segments import selectors as segments

SEGMENT = "segment:"
USER = "user:"


def _segment_uuids(actors: set[str]) -> list[uuid.UUID]:
    found = []
    for value in actors:
        if value.startswith(SEGMENT):
            try:
                found.append(uuid.UUID(value.removeprefix(SEGMENT)))
            except ValueError:
                continue
    return found


def actor_names(*, account: Account, actors: Iterable[str]) -> dict[str, str]:
    """Each actor id → how a page names it; an id nobody knows stays as it is."""
    wanted = {value for value in actors if value}
    names = {value: value for value in wanted}
    for value in wanted:
        if value.startswith(USER):
            names[value] = value.removeprefix(USER)
    uuids = _segment_uuids(wanted)
    if uuids:
        for key, name in (
            segments.segments_for_account(account=account).filter(uuid__in=uuids).values_list("uuid", "name")
        ):
            names[f"{SEGMENT}{key}"] = f"segment “{name}”"
    if any(not value.startswith((SEGMENT, USER)) for value in wanted):
        for client in api_clients_of_account(account=account):
            if client.client_id in wanted:
                names[client.client_id] = f"API client “{client.name}”"
    return names
