"""Who may see and change what: every page is scoped to one account the signed-in user is a member of."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from loyalty.accounts.policy import personal_data_visible
from loyalty.accounts.scopes import Role
from loyalty.accounts.selectors import staff_membership, staff_memberships
from loyalty.web.errors import page_errors

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def account_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Resolve `aid` to the user's membership. A non-member gets 404 (an account's existence is not disclosed) and
    a viewer's writes 403; the view receives `request.account`, `request.role`, `request.can_edit` and
    `request.can_see_personal_data`. A `NotFound` or `Forbidden` the view meets is the 404 or 403 page."""
    view = page_errors(view)

    @wraps(view)
    def wrapper(request: HttpRequest, aid: str, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("web:login"))
        membership = staff_membership(user=request.user, aid=aid)
        if membership is None:
            raise Http404("No such account.")
        request.account = membership.account
        request.role = membership.role
        request.can_edit = membership.role in (Role.OWNER, Role.EDITOR)
        request.can_see_personal_data = personal_data_visible(role=membership.role)
        if request.method not in SAFE_METHODS and not request.can_edit:
            raise PermissionDenied("Viewers cannot change anything.")
        return view(request, *args, **kwargs)

    return wrapper


def actor(request: HttpRequest) -> str:
    """Who a service records as having made a change from a page: the signed-in staff user."""
    return f"user:{request.user.get_username()}"


def read_only(request: HttpRequest, to: str, **kwargs) -> HttpResponse:
    """A viewer who opens a form (an old link, a typed address): back to what it belongs to, saying why, rather
    than a form whose saving would be refused."""
    messages.info(request, f"As a {request.role} you can look but not change: ask an owner of {request.account.name}.")
    return redirect(to, aid=request.account.aid, **kwargs)


def page(request: HttpRequest, template: str, context: dict | None = None, *, status: int = 200) -> HttpResponse:
    """Render a page of the frame: the current account, the role and the account switcher."""
    base = {
        "account": request.account,
        "role": request.role,
        "can_edit": request.can_edit,
        "can_see_personal_data": request.can_see_personal_data,
        "memberships": staff_memberships(user=request.user),
    }
    return render(request, template, {**base, **(context or {})}, status=status)
