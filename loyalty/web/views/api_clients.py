"""The account's API clients, for its owners: list, create (the secret is shown once, on the answer to the
create) and revoke."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers

from loyalty.accounts import selectors, services
from loyalty.accounts.scopes import CLIENT_SCOPES, Role
from loyalty.core.errors import Forbidden
from loyalty.web.access import account_view, actor, page
from loyalty.web.errors import domain_errors

NAV = "api-clients"


class ApiClientForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="Who uses it, e.g. “Till system” or “Member app backend”.")
    scopes = forms.MultipleChoiceField(
        choices=[(name, name) for name in CLIENT_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="Grant only what the integration needs.",
    )


def _owners_only(request: HttpRequest) -> None:
    if request.role != Role.OWNER:
        raise Forbidden("Only the account's owners manage API clients.")


@account_view
def api_client_list(request: HttpRequest) -> HttpResponse:
    _owners_only(request)
    clients = selectors.api_clients_of_account(account=request.account)
    return page(request, "web/api_clients.html", {"clients": clients, "nav": NAV})


def _form_page(request: HttpRequest, form: ApiClientForm, status: int = 200) -> HttpResponse:
    context = {"form": form, "descriptions": CLIENT_SCOPES, "nav": NAV}
    return page(request, "web/api_client_form.html", context, status=status)


@account_view
def api_client_new(request: HttpRequest) -> HttpResponse:
    _owners_only(request)
    if request.method != "POST":
        return _form_page(request, ApiClientForm())
    form = ApiClientForm(request.POST)
    if form.is_valid():
        with domain_errors(form) as caught:
            client, secret = services.api_client_create(
                account=request.account,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                created_by=actor(request),
            )
        if not caught.failed:
            # the secret's one showing: answered directly (no redirect, no session message) and never cached
            response = page(request, "web/api_client_created.html", {"client": client, "secret": secret, "nav": NAV})
            add_never_cache_headers(response)
            return response
    return _form_page(request, form, status=400)


@account_view
def api_client_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    _owners_only(request)
    client = selectors.api_client_get(account=request.account, pk=pk)
    if request.method == "POST":
        if client.active:
            services.api_client_revoke(client=client, actor=actor(request))
        messages.success(request, f"API client “{client.name}” revoked: its tokens no longer work.")
        return redirect("web:api-clients", aid=request.account.aid)
    return page(request, "web/api_client_revoke.html", {"client": client, "nav": NAV})
