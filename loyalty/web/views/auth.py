from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from loyalty.accounts.selectors import staff_memberships
from loyalty.accounts.services import staff_refresh_tokens_revoke
from loyalty.api.throttling import CredentialThrottle


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True

    @staticmethod
    def throttle_credential(request: HttpRequest) -> str:
        return request.POST.get("username", "")[:150].lower()

    def post(self, request, *args, **kwargs):
        # the same per-(username, address) budget as the API's login endpoints: passwords are not guessed here either
        throttle = CredentialThrottle()
        if not throttle.allow_request(request, self):
            form = self.get_form()
            form.errors.clear()
            wait = int(throttle.wait() or 60)
            response = render(
                request,
                self.template_name,
                {"form": form, "throttled": wait, "next": request.POST.get("next", "")},
                status=429,
            )
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        # signing out of the back-office ends the API sessions too: a refresh token issued before it is refused after
        if request.user.is_authenticated:
            staff_refresh_tokens_revoke(user=request.user)
        return super().post(request, *args, **kwargs)


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("web:login")
    memberships = staff_memberships(user=request.user)
    if not memberships:
        return redirect("web:no-account")
    return redirect("web:dashboard", aid=memberships[0].account.aid)


def no_account(request: HttpRequest) -> HttpResponse:
    return render(request, "web/no_account.html", status=403 if request.user.is_authenticated else 200)
