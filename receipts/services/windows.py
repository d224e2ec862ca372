"""Purchase windows live in receipts.readmodels.windows; these names stay importable from here."""

from receipts.readmodels.windows import (
    DERIVE_WHEN_DIFFERENCE_BELOW,
    FORGET_AFTER,
    TOUCH_AFTER,
    purchase_window_ensure,
    purchase_windows_forget_unused,
)

__all__ = [
    "DERIVE_WHEN_DIFFERENCE_BELOW",
    "FORGET_AFTER",
    "TOUCH_AFTER",
    "purchase_window_ensure",
    "purchase_windows_forget_unused",
]
