"""Receipt PDFs are tagged PDF/UA-1: a screen reader gets the structure (heading, a table whose rows have headers,
the QR code with its text), the document's language and its title, in each of the three languages."""

from __future__ import annotations

import io
import uuid

import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from simkeep.catalog import service as catalog
from simkeep.locale import languages
from simkeep.receipt import pdf
from simkeep.receipt import service as receipts
from tests.conftest import T0
from tests.factories.lines import make_line, top_up

VERIFY_URL = "https://recharge.example.com/receipts/token"


def rendered(db, language: str) -> tuple[PdfReader, str]:
    line = make_line(db, now=T0)
    topup = top_up(db, now=T0).topup
    with db.transaction() as session:
        receipt = receipts.issue(session, receipt_id=uuid.uuid4(), topup=topup, operator_id=line.operator_id,
                                 line_id=line.id, payment_method="card", language=language, now=T0)
        operator = catalog.get_operator(session, line.operator_id)
    body = pdf.render_pdf(receipt, operator, validity_days=14, verify_url=VERIFY_URL, language=language)
    return PdfReader(io.BytesIO(body)), receipt.number


def structure(node) -> list[tuple[str, str | None]]:
    """(tag, alternative text) of every structure element under `node`, depth first."""
    node = node.get_object()
    found = []
    if isinstance(node, DictionaryObject) and "/S" in node:
        found.append((str(node["/S"]), str(node["/Alt"]) if "/Alt" in node else None))
    kids = node.get("/K", []) if isinstance(node, DictionaryObject) else []
    for kid in kids if isinstance(kids, list) else [kids]:
        if isinstance(kid.get_object(), DictionaryObject):
            found += structure(kid)
    return found


@pytest.mark.parametrize("language,tag", [("zh_CN", "zh-CN"), ("fr", "fr"), ("en", "en")])
def test_a_receipt_is_a_tagged_pdf_ua_document_in_its_language(db, language, tag):
    reader, number = rendered(db, language)
    root = reader.trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"].value is True
    assert root["/Lang"] == tag
    assert root["/ViewerPreferences"]["/DisplayDocTitle"].value is True
    assert reader.metadata.title == f"{languages.gettext(language, 'Receipt')} {number}"
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert "<pdfuaid:part>1</pdfuaid:part>" in xmp or 'pdfuaid:part="1"' in xmp
    tags = structure(root["/StructTreeRoot"])
    names = [name for name, _ in tags]
    assert names.count("/H1") == 1
    assert names.count("/TR") == 6 and names.count("/TH") == 6 and names.count("/TD") == 6
    assert [alt for name, alt in tags if name == "/Figure"] == [languages.gettext(language, "QR code to scan")]
