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


@pytest.mark.django_db
def test_admin_changes_go_through_the_services(client, account, segments):
    # given an active segment with its first run queued
    mine, _ = segments
    client = login(client, account, "editor")
    change = reverse("admin:segments_segment_change", args=[mine.pk])

    # when an editor deactivates it in the change form, then its queued run is superseded (as the pages do)
    response = client.post(change, {"name": "MINE-SEGMENT", "description": ""})
    assert response.status_code == 302
    assert not Segment.objects.get(pk=mine.pk).active
    assert set(SegmentRun.objects.filter(segment=mine).values_list("status", flat=True)) == {"superseded"}

    # and when the activate action runs, a recalculation is queued
    changelist = reverse("admin:segments_segment_changelist")
    client.post(changelist, {"action": "activate", "_selected_action": [mine.pk]})
    assert Segment.objects.get(pk=mine.pk).active
    assert SegmentRun.objects.filter(segment=mine, status="queued", trigger="activated").exists()


@pytest.mark.django_db
def test_admin_deletes_go_through_the_service_and_are_audited(client, account, segments):
    from loyalty.core.models import AuditEvent

    mine, _ = segments
    client = login(client, account, "editor")
    response = client.post(reverse("admin:segments_segment_delete", args=[mine.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Segment.objects.filter(pk=mine.pk).exists()
    assert not SegmentRun.objects.filter(segment_id=mine.pk).exists()
    event = AuditEvent.objects.get(action="web:segment-delete")
    assert (event.account, event.actor, event.object_id) == (account, "user:u-editor", str(mine.uuid))
