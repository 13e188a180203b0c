"""The one hand-out of a batch's PINs: a CSV for the card printer and a printable PDF sheet of cards.

Both are made from (serial, PIN) pairs that exist only while a batch is made (the CLI) or opened for its one
export (the back office); nothing here stores them.

The PDF is A4, eight cards a page with dashed cut lines, each card with its serial, its PIN in groups of four, the
offer and face value, the validity, the last day it may be used, how to redeem it in 中文, français and English, and
a QR code that opens the portal with the PIN filled in (pins.redeem_url). WeasyPrint lays out about a hundred cards
a second on one core, so a sheet stops at PDF_LIMIT cards: a larger print run goes to the printer as the CSV (the
back office's zip then holds the CSV alone, and says why in a note)."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime

import segno
from weasyprint import HTML

from simkeep.core.errors import InvalidInput
from simkeep.core.money import Money
from simkeep.locale import formats
from simkeep.locale.languages import BASE_LOCALE, TAGS, translations
from simkeep.voucher import pins
from simkeep.voucher.models import VoucherBatch
from simkeep.voucher.service import Card
from simkeep.web import i18n

CSV_HEADER = ("serial", "pin", "pin_grouped", "offer_id", "face_value", "currency", "validity_days", "expires_on",
              "batch_id")
PDF_LIMIT = 1_000  # cards in one PDF sheet (125 pages); a larger run is printed from the CSV
CARDS_PER_PAGE = 8  # 2 across, 4 down, on A4
CARD_LANGUAGES = ("zh_CN", "fr", "en")  # every card says how to redeem it in each, in this order


def N_(message: str) -> str:
    return message


# What a card says, in each of CARD_LANGUAGES (translated from the catalogs like every page).
SERIAL = N_("Serial number")
PIN = N_("Recharge PIN")
USE_BY = N_("Use it by %(date)s: scan the QR code, or open %(url)s and type the PIN.")
HELP = N_("Help: %(phone)s")
QR_LABEL = N_("QR code that opens the recharge page with this PIN")


class TooManyCardsForPdf(InvalidInput):
    code = "voucher_pdf_too_many"
    message = f"A PDF sheet holds at most {PDF_LIMIT:,} cards: print larger batches from the CSV."


def csv_rows(batch: VoucherBatch, cards: list[Card]) -> list[tuple]:
    face = f"{batch.face_value_minor / 100:.2f}"
    expires_on = batch.expires_at.date().isoformat()
    return [(serial, pin, pins.grouped(pin), batch.offer_id, face, batch.currency, batch.validity_days, expires_on,
             str(batch.id)) for serial, pin in cards]


def csv_bytes(batch: VoucherBatch, cards: list[Card]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(batch, cards))
    return out.getvalue().encode()


# -- the PDF sheet -----------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Howto:
    """The card's text in one language: the same on every card of the batch, so it is made once."""

    language: str
    tag: str
    worth: str
    use_by: str
    help: str | None

    @property
    def text(self) -> str:
        parts = [self.worth, self.use_by, *([self.help] if self.help else [])]
        return ("" if self.language == "zh_CN" else " ").join(parts)  # no space between Chinese sentences


def howtos(batch: VoucherBatch, *, portal_url: str, hotline: str | None, timezone: str) -> list[Howto]:
    face = Money(batch.face_value_minor, batch.currency)
    out = []
    for language in CARD_LANGUAGES:
        t, locale = translations(language), BASE_LOCALE[language]
        worth = t.ngettext("Recharge card worth %(amount)s, %(num)d day of validity.",
                           "Recharge card worth %(amount)s, %(num)d days of validity.",
                           batch.validity_days) % {"amount": formats.money(face, locale), "num": batch.validity_days}
        use_by = t.gettext(USE_BY) % {"date": formats.last_day(batch.expires_at, timezone, locale),
                                      "url": portal_url}
        out.append(Howto(language, TAGS[language], worth, use_by,
                         t.gettext(HELP) % {"phone": hotline.replace(" ", "\u00a0")} if hotline else None))
    return out


def label(message: str) -> str:
    """A card's label in each of its languages: "序列号 · N° de série · Serial number"."""
    seen: list[str] = []
    for language in CARD_LANGUAGES:
        text = translations(language).gettext(message)
        if text not in seen:
            seen.append(text)
    return " · ".join(seen)


def qr_image(url: str) -> str:
    """The QR code as a PNG of one pixel per module, drawn without interpolation (`image-rendering: pixelated`
    makes WeasyPrint write /Interpolate false): as sharp in print as a vector, and half the time of an inline SVG,
    which WeasyPrint redraws path by path on every card."""
    return segno.make(url, error="m").png_data_uri(scale=1, border=2)


def sheet_html(batch: VoucherBatch, cards: list[Card], *, base_url: str, offer_name: str,
               hotline: str | None = None, timezone: str = "UTC") -> str:
    portal_url = base_url.rstrip("/") + "/renew/card"
    pages = [cards[i:i + CARDS_PER_PAGE] for i in range(0, len(cards), CARDS_PER_PAGE)]
    return i18n.environment("en").get_template("voucher/pdf.html").render(
        batch=batch, pages=pages, offer_name=offer_name, face=Money(batch.face_value_minor, batch.currency).format("en"),
        howtos=howtos(batch, portal_url=portal_url, hotline=hotline, timezone=timezone),
        serial_label=label(SERIAL), pin_label=label(PIN), qr_label=label(QR_LABEL),
        grouped=pins.grouped, qr=lambda pin: qr_image(pins.redeem_url(base_url, pin)))


def pdf_bytes(batch: VoucherBatch, cards: list[Card], *, base_url: str, offer_name: str, hotline: str | None = None,
              timezone: str = "UTC") -> bytes:
    """The printable sheet: A4, CARDS_PER_PAGE cards a page with cut lines. Refuses more than PDF_LIMIT cards."""
    if len(cards) > PDF_LIMIT:
        raise TooManyCardsForPdf()
    if not cards:
        raise InvalidInput("no cards to print")
    html = sheet_html(batch, cards, base_url=base_url, offer_name=offer_name, hotline=hotline, timezone=timezone)
    return HTML(string=html).write_pdf()


def file_stem(batch: VoucherBatch) -> str:
    return f"vouchers-{batch.serial_from}-{batch.serial_to}"


NO_PDF_NOTE = (f"This batch has more than {PDF_LIMIT:,} cards: no PDF sheet was made. Print the cards from the CSV "
               "(one row per card: serial, PIN, offer, face value, validity, expiry).\n")


def zip_bytes(batch: VoucherBatch, cards: list[Card], base_url: str, *, offer_name: str | None = None,
              hotline: str | None = None, timezone: str = "UTC", made_at: datetime | None = None) -> bytes:
    """The back office's one export: the printer's CSV and the PDF sheet (or, past PDF_LIMIT cards, a note saying
    to print from the CSV), in one zip."""
    stem = file_stem(batch)
    stamp = (made_at or batch.exported_at or batch.created_at).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(f"{stem}.csv", stamp), csv_bytes(batch, cards), zipfile.ZIP_DEFLATED)
        if len(cards) <= PDF_LIMIT:
            pdf = pdf_bytes(batch, cards, base_url=base_url, offer_name=offer_name or batch.offer_id,
                            hotline=hotline, timezone=timezone)
            archive.writestr(zipfile.ZipInfo(f"{stem}.pdf", stamp), pdf, zipfile.ZIP_DEFLATED)
        else:
            archive.writestr(zipfile.ZipInfo("README.txt", stamp), NO_PDF_NOTE.encode(), zipfile.ZIP_DEFLATED)
    return out.getvalue()
