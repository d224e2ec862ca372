"""The public surface of receipt data for the apps above (segments, discounts).

Querysets over customers and purchases, `prepare(plan)` (building the purchase windows and code buyers a segment
definition needs, outside any transaction), watermarks and ingest batches. Nothing above `receipts` reads its tables
any other way; import-linter holds that.
"""
