"""The one hand-out of a batch's PINs: a CSV for the card printer and a printable PDF sheet of cards.

Both are made from (serial, PIN) pairs that exist only while a batch is made (the CLI) or opened for its one
export (the back office); nothing here stores them."""

from __future__ import annotations

import csv
import io

from simkeep.core.money import Money
from simkeep.voucher import pins
from simkeep.voucher.models import VoucherBatch
from simkeep.voucher.service import Card, last_day

CSV_HEADER = ("serial", "pin", "pin_grouped", "offer_id", "face_value", "currency", "validity_days", "expires_on",
              "batch_id")


def csv_rows(batch: VoucherBatch, cards: list[Card], *, timezone: str = "UTC") -> list[tuple]:
    """One row per card; `expires_on` is the last day it can be used, in the operator's `timezone`."""
    face = str(Money(batch.face_value_minor, batch.currency).as_decimal())  # never through a float
    # The columns every card shares, read once: a million rows go through here.
    offer, currency, days, batch_id = batch.offer_id, batch.currency, batch.validity_days, str(batch.id)
    expires_on = last_day(batch.expires_at, timezone).isoformat()
    grouped = pins.grouped
    return [(serial, pin, grouped(pin), offer, face, currency, days, expires_on, batch_id) for serial, pin in cards]


def csv_bytes(batch: VoucherBatch, cards: list[Card], *, timezone: str = "UTC") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(batch, cards, timezone=timezone))
    return out.getvalue().encode()
