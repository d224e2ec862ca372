"""CSV downloads of the pages: streamed row by row, cells safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from django.http import StreamingHttpResponse

# What a spreadsheet may run as a formula when a cell starts with it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Digits with the separators of numbers and phone numbers ("+47 912 34 567", "-1 234,50", "(0)22"): no letter,
# so no function or cell reference a spreadsheet could run; these stay as they are, usable as numbers and phones.
PLAIN_NUMBER = re.compile(r"[+-]?[\d ().,/-]*\d[\d ().,/-]*")


def spreadsheet_cell(value: Any) -> str:
    """A cell's text, quoted with a leading ' when a spreadsheet would run it as a formula (values from
    point-of-sale systems are not ours to trust), and left alone when it is a plain number or phone number."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not (text[0] in "+-" and PLAIN_NUMBER.fullmatch(text)):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write returns the line, so csv.writer yields lines instead of buffering them."""

    def write(self, value: str) -> str:
        return value


def csv_response(*, filename: str, header: list[str], rows: Iterable[Iterable[Any]]) -> StreamingHttpResponse:
    """A streamed CSV download: `rows` is consumed lazily, one line at a time, while the response is sent."""
    writer = csv.writer(_Echo())

    def lines() -> Iterable[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([spreadsheet_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition(filename)
    return response


UNSAFE_IN_FILENAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def content_disposition(filename: str) -> str:
    """An attachment named as people named it ("Vår kunder.csv"): the UTF-8 name for browsers (RFC 6266), an
    ASCII fallback for the rest; characters no file system takes become "-"."""
    cleaned = UNSAFE_IN_FILENAMES.sub("-", filename).strip(" .-") or "export.csv"
    ascii_name = unicodedata.normalize("NFKD", cleaned).encode("ascii", "ignore").decode() or "export.csv"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(cleaned)}"
