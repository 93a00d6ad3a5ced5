"""CSV for spreadsheets: the one way the API and the CLI write exports.

A cell starting with ``= + - @`` (or a tab or carriage return) would be read as a formula
by a spreadsheet (OWASP's CSV injection list); a leading ``'`` makes it text. Every other
cell, empty ones included, is written as it is. Date-times are ISO 8601; lists and mappings
are JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = ["FORMULA_STARTS", "csv_text", "spreadsheet_safe", "write_csv"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def spreadsheet_safe(value: Any) -> Any:
    """``value`` as a CSV cell: formula starts made text, other values unchanged."""
    value = _cell(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(out: Any, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Write a header and ``rows`` (only ``columns``, in that order) to the text stream ``out``."""
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: spreadsheet_safe(row.get(key)) for key in columns})


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """The CSV of ``rows`` as one string (see :func:`write_csv`)."""
    buffer = io.StringIO()
    write_csv(buffer, columns, rows)
    return buffer.getvalue()
