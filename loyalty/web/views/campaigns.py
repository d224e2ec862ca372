"""Campaign pages: the list, a campaign with its rules, redemptions and cost, create, edit, delete and restore."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from discounts.selectors import campaigns as selectors
from discounts.services import campaigns as services
from loyalty.web.access import account_view, actor, page, read_only
from loyalty.web.errors import domain_errors

FIELDS = {"name": "name", "campaign_id": "campaign_id", "description": "description", "private": "private"}
# the service's field errors speak the API (`campaign_id`); the form calls it "Key". Matched on the message's start
# so the API's wording stays the one source of truth for what is refused.
KEY_WORDS = (
    ("a campaign with this campaign_id exists", "A campaign with this key already exists (deleted campaigns count)."),
    ("must be at most", f"The key can have at most {services.MAX_KEY_LENGTH} characters and no '/'."),
    ("must not have leading or trailing spaces", "The key cannot start or end with a space."),
    ("must not be empty", "Enter a key, or leave the field empty to use the campaign's own id."),
    ("cannot be changed", "The key cannot change."),
)


def in_form_words(path: str, message: str) -> str:
    if path == "campaign_id":
        for start, words in KEY_WORDS:
            if message.startswith(start):
                return words
    if path == "name" and message == "must not be empty":
        return "Enter a name."
    return message


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    campaign_id = forms.CharField(
        required=False,
        max_length=255,
        label="Key",
        help_text="What rules name in their campaign_id. Leave it empty to use the campaign's own id. "
        "It cannot change later.",
    )
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    private = forms.BooleanField(
        required=False, label="Private (its rules are left out of public rules filtered by this campaign)"
    )

    def body(self) -> dict:
        data = self.cleaned_data
        body = {"name": data["name"], "description": data["description"], "private": data["private"]}
        if data.get("campaign_id"):
            body["campaign_id"] = data["campaign_id"]
        return body


def _form_page(request, form, campaign=None, status=200) -> HttpResponse:
    return page(request, "web/campaign_form.html", {"form": form, "campaign": campaign, "nav": "rules"}, status=status)


@account_view
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = selectors.campaigns_overview(account=request.account)
    return page(request, "web/campaigns.html", {"campaigns": campaigns, "nav": "rules"})


@account_view
def campaign_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = CampaignForm(request.POST)
        if form.is_valid():
            with domain_errors(form, fields=FIELDS, words=in_form_words) as caught:
                campaign = services.campaign_create(account=request.account, body=form.body(), actor=actor(request))
            if not caught.failed:
                messages.success(request, f"Campaign “{campaign.name}” created.")
                return redirect("web:campaign", aid=request.account.aid, campaign_pk=campaign.pk)
        return _form_page(request, form, status=400)
    if not request.can_edit:
        return read_only(request, "web:campaigns")
    return _form_page(request, CampaignForm())


@account_view
def campaign_edit(request: HttpRequest, campaign_pk: uuid.UUID) -> HttpResponse:
    campaign = selectors.campaign_get_by_id(account=request.account, pk=campaign_pk)
    if request.method == "POST":
        form = CampaignForm(request.POST)
        form.fields["campaign_id"].disabled = True
        if form.is_valid():
            body = {**form.body(), "campaign_id": campaign.campaign_id}
            with domain_errors(form, fields=FIELDS, words=in_form_words) as caught:
                services.campaign_update(
                    account=request.account, campaign_id=campaign.campaign_id, body=body, actor=actor(request)
                )
            if not caught.failed:
                messages.success(request, "Campaign saved.")
                return redirect("web:campaign", aid=request.account.aid, campaign_pk=campaign.pk)
        return _form_page(request, form, campaign=campaign, status=400)
    if not request.can_edit:
        return read_only(request, "web:campaign", campaign_pk=campaign.pk)
    form = CampaignForm(
        initial={
            "name": campaign.name,
            "campaign_id": campaign.campaign_id,
            "description": campaign.description,
            "private": campaign.private,
        }
    )
    form.fields["campaign_id"].disabled = True
    return _form_page(request, form, campaign=campaign)


@account_view
def campaign_detail(request: HttpRequest, campaign_pk: uuid.UUID) -> HttpResponse:
    campaign = selectors.campaign_get_by_id(account=request.account, pk=campaign_pk)
    overview = selectors.campaign_overview(account=request.account, campaign=campaign)
    return page(request, "web/campaign.html", {"campaign": campaign, "overview": overview, "nav": "rules"})


@account_view
@require_POST
def campaign_delete(request: HttpRequest, campaign_pk: uuid.UUID) -> HttpResponse:
    campaign = selectors.campaign_get_by_id(account=request.account, pk=campaign_pk)
    if campaign.deleted_at:
        # restoring is a PUT of what it has (Dintero: a PUT undeletes)
        body = {"name": campaign.name, "description": campaign.description, "private": campaign.private}
        services.campaign_update(
            account=request.account, campaign_id=campaign.campaign_id, body=body, actor=actor(request)
        )
        messages.success(request, "Campaign restored.")
    else:
        services.campaign_delete(account=request.account, campaign_id=campaign.campaign_id, actor=actor(request))
        messages.success(request, "Campaign deleted; its rules are unchanged.")
    return redirect("web:campaign", aid=request.account.aid, campaign_pk=campaign.pk)
