"""Segments in the admin: another account's segments are absent and 404; viewers change nothing."""

import pytest
from django.urls import reverse

from loyalty.accounts.services import staff_user_upsert
from segments.models import Segment, SegmentRun
from segments.services.segments import segment_create


@pytest.fixture
def segments(account, other_account):
    mine = segment_create(account=account, data={"name": "MINE-SEGMENT"}, actor="t")
    theirs = segment_create(account=other_account, data={"name": "THEIRS-SEGMENT"}, actor="t")
    return mine, theirs


def login(client, account, role):
    user, _ = staff_user_upsert(account=account, username=f"u-{role}", role=role, password="pw-Some-12345")
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_lists_and_details_are_scoped(client, account, segments):
    mine, theirs = segments
    client = login(client, account, "editor")
    listing = client.get(reverse("admin:segments_segment_changelist"))
    assert b"MINE-SEGMENT" in listing.content and b"THEIRS-SEGMENT" not in listing.content
    assert client.get(reverse("admin:segments_segment_change", args=[mine.pk])).status_code == 200
    assert client.get(reverse("admin:segments_segment_change", args=[theirs.pk])).status_code == 404
    their_run = SegmentRun.objects.get(segment=theirs)
    assert client.get(reverse("admin:segments_segmentrun_change", args=[their_run.pk])).status_code == 404


@pytest.mark.django_db
def test_a_viewer_cannot_change_a_segment(client, account, segments):
    mine, _ = segments
    client = login(client, account, "viewer")
    response = client.post(
        reverse("admin:segments_segment_change", args=[mine.pk]), {"name": "hacked", "description": "", "active": "on"}
    )
    assert response.status_code == 403
    assert Segment.objects.get(pk=mine.pk).name == "MINE-SEGMENT"
