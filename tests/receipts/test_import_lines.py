"""import_receipts' line handling without the database: what a loader process makes of its lines.

Each line is decoded, validated like the API and parsed; a line that is the document as stored keeps its text (stored
instead of encoding the document again), and NUL characters must be found however a line spells them.
"""

from __future__ import annotations

import json

import orjson

from receipts.documents import parse_receipt
from receipts.management.commands.import_receipts import parse_lines
from tests.receipts.factories import receipt


def _lines(*documents: object) -> list[tuple[int, bytes]]:
    return [(number, json.dumps(d).encode()) for number, d in enumerate(documents, start=1)]


def test_lines_become_receipts_and_problems_in_order():
    late = receipt(customer_id=None)
    late["purchase_at"] = "soon"
    entity = receipt(customer_id="c1") | {"id": "0b9d3c26-2e5f-4a8f-9d53-9f0c4f6b1a11", "created_by": "someone"}
    plain = receipt(customer_id="c1")
    batch = [*_lines(plain, late, entity, receipt(customer_id=None)), (5, b"{broken")]

    receipts, problems = parse_lines(batch)

    assert [r.index for r in receipts] == [1, 3, 4]
    assert receipts[0] == parse_receipt(1, plain)
    assert problems[0].startswith("line 2: purchase_at must be a date-time")
    assert problems[1].startswith("line 5: (receipt) not JSON")
    stripped = receipts[1]
    assert "id" not in stripped.document and "created_by" not in stripped.document
    assert stripped.profile is not None and stripped.profile.document is stripped.document["customer"]


def test_a_line_that_is_the_document_is_stored_as_its_text():
    plain = receipt(customer_id="c1", comment="tab\tand \\ backslash")
    entity = receipt() | {"created_at": "2020-01-01T00:00:00Z"}
    pretty = (3, json.dumps(receipt(customer_id="c2"), indent=2).replace("\n", " ").encode() + b"\r\n")

    receipts, problems = parse_lines([*_lines(plain, entity), pretty])

    assert problems == []
    assert receipts[0].document_json is not None and orjson.loads(receipts[0].document_json) == plain
    assert receipts[1].document_json is None  # entity fields stripped: the stored document is not the line
    assert receipts[2].document_json is not None and not receipts[2].document_json.endswith(("\r", "\n"))
    assert orjson.loads(receipts[2].document_json) == receipts[2].document


def test_nul_characters_are_found_however_the_line_spells_them():
    nul = receipt(comment="a\x00b")
    backslash_u = receipt(comment="a\\u0000b")  # the text \u0000, not a NUL: fine
    in_a_key = receipt(extra={"a\x00": 1})
    batch = _lines(nul, backslash_u, in_a_key)
    assert b"\\u0000" in batch[0][1] and b"\\\\u0000" in batch[1][1]

    receipts, problems = parse_lines(batch)

    assert problems == [
        "line 1: (receipt) text must not contain NUL characters",
        "line 3: (receipt) text must not contain NUL characters",
    ]
    assert [r.index for r in receipts] == [2]
    # orjson escapes NUL the same way; a raw NUL byte is not JSON at all
    assert parse_lines([(1, orjson.dumps(nul))])[1] != []
    assert "not JSON" in parse_lines([(1, json.dumps(nul).encode().replace(b"\\u0000", b"\x00"))])[1][0]
