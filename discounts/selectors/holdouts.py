"""Reads of push links' holdouts: who a link holds out, for the members list and the CSV export."""

from __future__ import annotations

from django.contrib.postgres.aggregates import StringAgg
from django.db.models import F, Func, OuterRef, QuerySet, Subquery, TextField, Value
from django.db.models.functions import Coalesce, Concat

from discounts.models import PushAssignment, PushLink
from segments.models import Segment


def holdout_links_for_segment(*, segment: Segment) -> QuerySet[PushLink]:
    """The segment's links that hold customers out, oldest first."""
    return PushLink.objects.filter(segment=segment, holdout_percent__gt=0).select_related("rule").order_by("created_at")


def held_out_customers(*, link: PushLink) -> QuerySet:
    """The customer pks the link holds out (for `segments.selectors.segment_members_page(within=…)`)."""
    return PushAssignment.objects.filter(account_id=link.account_id, link=link, held_out=True).values("customer")


def held_out_of_column(*, segment: Segment) -> Coalesce:
    """Per member (the outer customer row): the rules this segment's links hold them out of, with the day each
    began, as "10 % off (since 2026-12-05)"; "" for a member held out of nothing."""
    labels = (
        PushAssignment.objects.filter(
            account_id=segment.account_id, link__segment=segment, customer=OuterRef("pk"), held_out=True
        )
        .values("customer")
        .annotate(
            labels=StringAgg(
                Concat(
                    F("link__rule__name"),
                    Value(" (since ", output_field=TextField()),
                    Func(
                        F("assigned_at"),
                        Value("YYYY-MM-DD", output_field=TextField()),
                        function="to_char",
                        output_field=TextField(),
                    ),
                    Value(")", output_field=TextField()),
                    output_field=TextField(),
                ),
                delimiter="; ",
                order_by="assigned_at",
                output_field=TextField(),
            )
        )
        .values("labels")
    )
    return Coalesce(Subquery(labels, output_field=TextField()), Value("", output_field=TextField()))
