"""A reseller's statement as CSV, for a spreadsheet or an accounting package: one row per movement of the float."""

from __future__ import annotations

import csv
import io

from simkeep.reseller.models import Reseller
from simkeep.reseller.service import StatementLine

CSV_HEADER = ("date", "kind", "reference", "amount", "commission", "balance", "currency")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run a text cell starting with these


def statement_csv(reseller: Reseller, lines: list[StatementLine]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for line in lines:
        writer.writerow((line.at.isoformat().replace("+00:00", "Z"), _text(line.kind), _text(line.reference),
                         line.amount.as_decimal(), line.commission.as_decimal(), line.balance.as_decimal(),
                         reseller.currency))
    return out.getvalue().encode()


def _text(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA) else value
