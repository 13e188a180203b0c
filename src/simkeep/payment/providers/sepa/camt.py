"""Reading ISO 20022 camt.053 bank-to-customer statements (versions 001.02 to 001.13; tested on .02 and .08).

Only the standard library's expat is used, and a document type declaration is refused outright: a bank
statement never has one, and refusing it leaves no room for entity expansion ("billion laughs") or external
entities. Nothing here touches the database: the result is plain data that sepa.service imports.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import partial
from typing import NoReturn
from xml.parsers import expat

from stdnum import iban as stdnum_iban
from stdnum import iso11649
from stdnum.exceptions import ValidationError

from simkeep.core.errors import InvalidAmount, InvalidInput
from simkeep.core.money import Money

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001."
VERSIONS = tuple(f"{n:02d}" for n in range(2, 14))
MAX_BYTES = 64 * 1024 * 1024
MAX_REF = 48  # bank_entries.entry_ref is 80 wide and the inbox event id is "camt:" + it, with room for "@…"
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_AMOUNT = re.compile(r"^[0-9]{1,18}(\.[0-9]{0,5})?$")
_RF_START = re.compile(r"(?<![A-Z0-9])RF[0-9]{2}")


class CamtError(InvalidInput):
    code, message = "invalid_statement", "The file is not a readable camt.053 bank statement."


@dataclass(frozen=True, slots=True)
class Entry:
    """One booked credit (or one transfer of a batch-booked credit)."""

    entry_ref: str
    booked_on: date
    amount_minor: int
    currency: str
    reference: str | None  # RF… when one was found (compact), else a non-RF structured reference, else None
    reference_valid: bool  # an ISO 11649 reference whose check digits are right
    debtor: str | None
    reversal: bool = False
    note: str | None = None  # why it cannot be matched automatically, when the statement alone says so
    details: dict = field(default_factory=dict)  # end-to-end id, debtor IBAN, free text: for staff


@dataclass(frozen=True, slots=True)
class Statement:
    statement_id: str
    account_iban: str
    entries: tuple[Entry, ...]
    ignored: int  # debits and entries not booked (pending, information only)


@dataclass(frozen=True, slots=True)
class Document:
    version: str  # "02", "08", ...
    message_id: str | None
    statements: tuple[Statement, ...]

    @property
    def entry_count(self) -> int:
        return sum(len(s.entries) for s in self.statements)


def parse(data: bytes) -> Document:
    if len(data) > MAX_BYTES:
        raise CamtError(f"The statement file is larger than {MAX_BYTES // (1024 * 1024)} MiB.")
    root, namespace = _parse_xml(data)
    if root.tag != "Document" or not namespace.startswith(NAMESPACE):
        found = namespace.rsplit(":", 1)[-1] if namespace else "no ISO 20022 namespace"
        raise CamtError(f"This is not a camt.053 bank statement ({found}).")
    version = namespace.removeprefix(NAMESPACE)
    if version not in VERSIONS:
        raise CamtError(f"camt.053.001.{version} is not a supported version.")
    message = root.find("BkToCstmrStmt")
    if message is None:
        raise CamtError("The document has no BkToCstmrStmt element.")
    statements = tuple(_statement(s) for s in message.findall("Stmt"))
    if not statements:
        raise CamtError("The document holds no statement (Stmt).")
    ids = [(s.account_iban, s.statement_id) for s in statements]
    if len(set(ids)) != len(ids):
        raise CamtError("The document holds the same statement twice.")
    return Document(version=version, message_id=_text(message, "GrpHdr/MsgId"), statements=statements)


def find_reference(structured: list[str], unstructured: list[str]) -> tuple[str | None, bool]:
    """The payer's creditor reference: a valid structured RF reference first, then an RF reference written in the
    free text, then (kept for staff, never matched) whatever structured reference was given."""
    for ref in structured:
        compact = iso11649.compact(ref)
        if iso11649.is_valid(compact):
            return compact, True
    for text in unstructured:
        found = rf_in_text(text)
        if found:
            return found, True
    for ref in structured:
        if ref.strip():
            return " ".join(ref.split())[:40], False
    return None, False


def rf_in_text(text: str) -> str | None:
    """An RF reference inside free text ("Order RF47 0A1B 2C3D 4E5F 6G7H, thanks"), grouped with single spaces or
    not. Only lengths that end at a word boundary are tried, longest first, and the check digits must hold."""
    upper = text.upper()
    for start in _RF_START.finditer(upper):
        body, ends, i = "", [], start.end()
        while i < len(upper) and len(body) <= 21:
            char = upper[i]
            if char.isascii() and char.isalnum():
                body += char
            elif char == " " and i + 1 < len(upper) and upper[i + 1] != " ":
                if body:
                    ends.append(body)
            else:
                break
            i += 1
        ends.append(body)
        for candidate in sorted({b for b in ends if 1 <= len(b) <= 21}, key=len, reverse=True):
            if iso11649.is_valid(start.group(0) + candidate):
                return start.group(0) + candidate
    return None


# -- XML ------------------------------------------------------------------------------------------------------

def _parse_xml(data: bytes) -> tuple[ET.Element, str]:
    """Parse with expat into ElementTree elements named without their namespace (the document's namespace is
    returned; elements of any other namespace keep "{uri}name" and so never match a camt path)."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator=" ")
    namespaces: list[str] = []

    def refuse(*_args) -> NoReturn:
        raise CamtError("Document type declarations and entities are not allowed in a bank statement.")

    def name(raw: str) -> str:
        uri, _, local = raw.rpartition(" ")
        if not namespaces:
            namespaces.append(uri)
        return local if uri == namespaces[0] else (f"{{{uri}}}{local}" if uri else local)

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    parser.StartElementHandler = lambda tag, attrs: builder.start(name(tag), {name(k): v for k, v in attrs.items()})
    parser.EndElementHandler = lambda tag: builder.end(name(tag))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise CamtError(f"The file is not well-formed XML: {exc}.") from exc
    return builder.close(), namespaces[0] if namespaces else ""


def _text(element: ET.Element | None, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path)
    if found is None or found.text is None:
        return None
    return " ".join(found.text.split()) or None


def _texts(element: ET.Element | None, path: str) -> list[str]:
    if element is None:
        return []
    return [" ".join(e.text.split()) for e in element.findall(path) if e.text and e.text.strip()]


# -- statement and entries ------------------------------------------------------------------------------------

def _statement(stmt: ET.Element) -> Statement:
    statement_id = _text(stmt, "Id")
    if not statement_id or len(statement_id) > 35:
        raise CamtError("A statement has no identification (Stmt/Id of 1 to 35 characters).")
    raw_iban = _text(stmt, "Acct/Id/IBAN")
    if not raw_iban:
        raise CamtError(f"Statement {statement_id}: the account has no IBAN (Acct/Id/IBAN).")
    try:
        account_iban = stdnum_iban.validate(raw_iban)
    except ValidationError as exc:
        raise CamtError(f"Statement {statement_id}: the account IBAN {raw_iban!r} is not valid.") from exc
    entries: list[Entry] = []
    ignored = 0
    seen_hashes: dict[str, int] = {}
    for number, ntry in enumerate(stmt.findall("Ntry"), start=1):
        where = f"statement {statement_id}, entry {number}"
        status = _text(ntry, "Sts/Cd") or _text(ntry, "Sts")
        if _text(ntry, "CdtDbtInd") != "CRDT" or status != "BOOK":
            ignored += 1
            continue
        entries.extend(_entry(ntry, where, seen_hashes))
    return Statement(statement_id=statement_id, account_iban=account_iban, entries=tuple(entries), ignored=ignored)


def _entry(ntry: ET.Element, where: str, seen_hashes: dict[str, int]) -> list[Entry]:
    amount_minor, currency, amount_text = _amount(ntry.find("Amt"), where)
    booked_on = _booking_date(ntry, where)
    reversal = (_text(ntry, "RvslInd") or "").lower() == "true"
    transactions = ntry.findall("NtryDtls/TxDtls")
    single = transactions[0] if len(transactions) == 1 else None
    facts = _facts(single, ntry)
    base_ref = (_text(ntry, "AcctSvcrRef") or _text(single, "Refs/AcctSvcrRef") or _text(ntry, "NtryRef")
                or _hashed_ref([str(booked_on), amount_text, currency, _text(ntry, "ValDt/Dt") or "",
                                *(f"{k}={v}" for k, v in sorted(facts.items()))], seen_hashes))
    base_ref = _bounded(base_ref)
    credit = partial(_credit, booked_on=booked_on, currency=currency, reversal=reversal)
    if len(transactions) <= 1:
        return [credit(base_ref, amount_minor, facts)]
    split = [_tx_amount(tx, currency, where) for tx in transactions]
    amounts = [amount for amount in split if amount is not None]
    if len(amounts) < len(split) or sum(amounts) != amount_minor:
        return [Entry(entry_ref=base_ref, amount_minor=amount_minor, reference=None, reference_valid=False,
                      debtor=None, note=f"batch of {len(transactions)} transfers: split it by hand",
                      details={"transfers": len(transactions)}, booked_on=booked_on, currency=currency,
                      reversal=reversal)]
    credits = []
    for index, (tx, tx_amount) in enumerate(zip(transactions, amounts, strict=True), start=1):
        ref = _text(tx, "Refs/AcctSvcrRef") or f"{base_ref}/{index}"
        credits.append(credit(_bounded(ref), tx_amount, _facts(tx, None)))
    return credits


def _credit(entry_ref: str, amount_minor: int, facts: dict, *, booked_on: date, currency: str,
            reversal: bool) -> Entry:
    reference, valid = find_reference(facts.pop("_structured", []), facts.pop("_unstructured", []))
    debtor = facts.get("debtor")
    return Entry(entry_ref=entry_ref, booked_on=booked_on, amount_minor=amount_minor, currency=currency,
                 reference=reference, reference_valid=valid, debtor=debtor[:140] if debtor else None,
                 reversal=reversal, details={k: v for k, v in facts.items() if v})


def _facts(tx: ET.Element | None, ntry: ET.Element | None) -> dict:
    """What a transfer says about itself: remittance information, payer, end-to-end id."""
    structured = _texts(tx, "RmtInf/Strd/CdtrRefInf/Ref")
    unstructured = [*_texts(tx, "RmtInf/Ustrd"), *_texts(tx, "AddtlTxInf"), *_texts(ntry, "AddtlNtryInf")]
    parties = tx.find("RltdPties") if tx is not None else None
    debtor = (_text(parties, "Dbtr/Nm") or _text(parties, "Dbtr/Pty/Nm") or _text(parties, "UltmtDbtr/Nm")
              or _text(parties, "UltmtDbtr/Pty/Nm"))
    end_to_end = _text(tx, "Refs/EndToEndId")
    return {"_structured": structured, "_unstructured": unstructured, "debtor": debtor,
            "debtor_iban": _text(parties, "DbtrAcct/Id/IBAN"),
            "end_to_end_id": None if end_to_end == "NOTPROVIDED" else end_to_end,
            "remittance": " / ".join([*structured, *unstructured])[:280] or None}


def _amount(element: ET.Element | None, where: str) -> tuple[int, str, str]:
    if element is None or not element.text:
        raise CamtError(f"{where}: no amount (Amt).")
    currency = (element.get("Ccy") or "").strip()
    if not _CURRENCY.match(currency):
        raise CamtError(f"{where}: the amount has no valid currency (Ccy).")
    text = element.text.strip()
    if not _AMOUNT.match(text):  # xs:decimal as ISO 20022 restricts it: no sign, no exponent
        raise CamtError(f"{where}: {text!r} is not an amount.")
    amount = Decimal(text)
    if amount <= 0:
        raise CamtError(f"{where}: {text!r} is not a positive amount.")
    try:
        return Money.parse(amount, currency).minor, currency, text
    except InvalidAmount as exc:
        raise CamtError(f"{where}: {text} has more decimals than {currency} allows.") from exc


def _tx_amount(tx: ET.Element, currency: str, where: str) -> int | None:
    element = tx.find("Amt")
    if element is None:
        element = tx.find("AmtDtls/TxAmt/Amt")
    if element is None or element.get("Ccy") != currency:
        return None
    return _amount(element, where)[0]


def _booking_date(ntry: ET.Element, where: str) -> date:
    text = _text(ntry, "BookgDt/Dt") or (_text(ntry, "BookgDt/DtTm") or "")[:10] or _text(ntry, "ValDt/Dt")
    try:
        return date.fromisoformat(text or "")
    except ValueError as exc:
        raise CamtError(f"{where}: no valid booking date (BookgDt).") from exc


def _hashed_ref(parts: list[str], seen: dict[str, int]) -> str:
    """For an entry the bank gave no reference: the same entry in a later statement hashes the same; identical
    entries within one statement are told apart by their order."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    seen[digest] = seen.get(digest, 0) + 1
    return f"h-{digest}-{seen[digest]}"


def _bounded(ref: str) -> str:
    return ref if len(ref) <= MAX_REF else f"h-{hashlib.sha256(ref.encode()).hexdigest()[:32]}"
