from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from loyalty.accounts.selectors import staff_memberships


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("web:login")
    memberships = staff_memberships(user=request.user)
    if not memberships:
        return redirect("web:no-account")
    return redirect("web:dashboard", aid=memberships[0].account.aid)


def no_account(request: HttpRequest) -> HttpResponse:
    from django.shortcuts import render

    return render(request, "web/no_account.html", status=403 if request.user.is_authenticated else 200)
