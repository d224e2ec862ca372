"""The one place where a principal is checked against the account in the path and the operation's scopes."""

from __future__ import annotations

from rest_framework import exceptions, permissions


def scope_groups(required) -> list[tuple[str, ...]]:
    """`required_scopes` values are a tuple (any of these scopes) or a list of such tuples (one of each)."""
    if isinstance(required, list):
        return [tuple(group) for group in required]
    return [tuple(required)] if required else []


class AccountScopePermission(permissions.BasePermission):
    """Views declare `account_kwarg` and `required_scopes`: {method: (scope, ...)} where any scope suffices, or
    {method: [(scope, ...), (scope, ...)]} where one scope of every group is needed."""

    def has_permission(self, request, view) -> bool:
        principal = request.user
        if principal is None or not getattr(principal, "is_authenticated", False):
            return False  # DRF answers 401 with our WWW-Authenticate header
        aid = view.kwargs.get(getattr(view, "account_kwarg", "aid"))
        if aid is None:
            raise exceptions.PermissionDenied("This operation is not scoped to an account.")
        granted = principal.scopes_for(aid)
        if granted is None:
            raise exceptions.PermissionDenied(f"The token is not valid for account {aid}.")
        method = "GET" if request.method == "HEAD" else request.method
        groups = scope_groups(view.required_scopes.get(method, ()))
        if not groups:
            raise exceptions.PermissionDenied("This operation requires one of the scopes: (none configured).")
        for group in groups:
            if not granted.intersection(group):
                raise exceptions.PermissionDenied(
                    f"This operation requires one of the scopes: {', '.join(sorted(group))}."
                )
        _check_customer(principal, view)
        return True


def _check_customer(principal, view) -> None:
    """A customer token holds only `user:*` scopes, so the scope check above already refuses every operation that
    does not allow one; here its customer must be the path's. Operations with no customer in the path (receipt
    tokens) call `principal.require_customer(...)` with the customer of what they touch."""
    customer_id = getattr(principal, "customer_id", None)
    if customer_id is None:
        return
    path_customer = view.kwargs.get("customer_id")
    if path_customer is not None and path_customer != customer_id:
        raise exceptions.PermissionDenied("This customer token is not valid for that customer.")
