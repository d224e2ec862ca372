"""Code buyers live in receipts.readmodels.buyers; these names stay importable from here."""

from receipts.readmodels.buyers import FORGET_AFTER, TOUCH_AFTER, code_buyers_ensure, code_buyers_forget_unused

__all__ = ["FORGET_AFTER", "TOUCH_AFTER", "code_buyers_ensure", "code_buyers_forget_unused"]
