"""import_receipts' line handling without the database: parser processes only check lines, the command parses them.

Both ways (in this process with --parsers 1, or checked by parser processes and parsed by the command) must give
the same receipts and the same problems, and NUL characters must be found however a line spells them.
"""

from __future__ import annotations

import json

import orjson

from receipts.management.commands.import_receipts import _check_lines, _parse_checked, _parse_lines
from tests.receipts.factories import receipt


def _lines(*documents: object) -> list[tuple[int, bytes]]:
    return [(number, json.dumps(d).encode()) for number, d in enumerate(documents, start=1)]


def test_checked_then_parsed_equals_parsed_in_one_go():
    late = receipt(customer_id=None)
    late["purchase_at"] = "soon"
    entity = receipt(customer_id="c1") | {"id": "0b9d3c26-2e5f-4a8f-9d53-9f0c4f6b1a11", "created_by": "someone"}
    batch = [*_lines(receipt(customer_id="c1"), late, entity, receipt(customer_id=None)), (5, b"{broken")]

    in_one_go = _parse_lines(batch)
    checked = _check_lines(batch)

    assert _parse_checked(batch, checked) == in_one_go
    assert [problem for _, problem in in_one_go] == checked
    assert checked[1].startswith("line 2: purchase_at must be a date-time") and checked[4].startswith(
        "line 5: (receipt)"
    )
    stripped = in_one_go[2][0]
    assert stripped is not None and "id" not in stripped.document and "created_by" not in stripped.document
    assert stripped.profile is not None and stripped.profile.document is stripped.document["customer"]


def test_nul_characters_are_found_however_the_line_spells_them():
    nul = receipt(comment="a\x00b")
    backslash_u = receipt(comment="a\\u0000b")  # the text \u0000, not a NUL: fine
    in_a_key = receipt(extra={"a\x00": 1})
    batch = _lines(nul, backslash_u, in_a_key)
    assert b"\\u0000" in batch[0][1] and b"\\\\u0000" in batch[1][1]

    assert _check_lines(batch) == [
        "line 1: (receipt) text must not contain NUL characters",
        None,
        "line 3: (receipt) text must not contain NUL characters",
    ]
    assert [problem for _, problem in _parse_lines(batch)] == _check_lines(batch)
    # orjson escapes NUL the same way; a raw NUL byte is not JSON at all
    assert _check_lines([(1, orjson.dumps(nul))])[0] is not None
    assert "not JSON" in _check_lines([(1, json.dumps(nul).encode().replace(b"\\u0000", b"\x00"))])[0]
