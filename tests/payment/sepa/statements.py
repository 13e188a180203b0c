"""camt.053 statements made for a test, in the shapes of versions 001.02 and 001.08 (see data/ for full samples)."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

IBAN = "FR7630006000011234567890189"


@dataclass(frozen=True)
class Credit:
    bank_ref: str | None  # AcctSvcrRef
    amount: str  # as the bank writes it: "10.00"
    rf: str | None = None  # structured creditor reference
    text: str | None = None  # unstructured remittance
    debtor: str = "Jean Dupont"
    booked: str = "2027-03-02"
    direction: str = "CRDT"
    status: str = "BOOK"
    currency: str = "EUR"


def statement(statement_id: str, credits: list[Credit], *, version: str = "02", iban: str = IBAN) -> bytes:
    return document([(statement_id, credits)], version=version, iban=iban)


def document(statements: list[tuple[str, list[Credit]]], *, version: str = "02", iban: str = IBAN) -> bytes:
    body = "".join(_stmt(sid, credits, version, iban) for sid, credits in statements)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">'
            f"<BkToCstmrStmt><GrpHdr><MsgId>MSG-{escape(statements[0][0])}</MsgId>"
            f"<CreDtTm>2027-03-03T06:00:00+01:00</CreDtTm></GrpHdr>{body}</BkToCstmrStmt></Document>").encode()


def _stmt(statement_id: str, credits: list[Credit], version: str, iban: str) -> str:
    entries = "".join(_entry(n, c, version) for n, c in enumerate(credits, start=1))
    return (f"<Stmt><Id>{escape(statement_id)}</Id><CreDtTm>2027-03-03T06:00:00+01:00</CreDtTm>"
            f"<Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
            f'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1000.00</Amt>'
            f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2027-03-02</Dt></Dt></Bal>{entries}</Stmt>")


def _entry(number: int, c: Credit, version: str) -> str:
    status = f"<Sts>{c.status}</Sts>" if version == "02" else f"<Sts><Cd>{c.status}</Cd></Sts>"
    amount = f'<Amt Ccy="{c.currency}">{c.amount}</Amt>'
    tx_amount = f"<AmtDtls><TxAmt>{amount}</TxAmt></AmtDtls>" if version == "02" else amount
    debtor = f"<Nm>{escape(c.debtor)}</Nm>" if version == "02" else f"<Pty><Nm>{escape(c.debtor)}</Nm></Pty>"
    remittance = ""
    if c.rf:
        remittance += f"<Strd><CdtrRefInf><Ref>{escape(c.rf)}</Ref></CdtrRefInf></Strd>"
    if c.text:
        remittance = f"<Ustrd>{escape(c.text)}</Ustrd>" + remittance
    return (f"<Ntry><NtryRef>{number}</NtryRef>{amount}<CdtDbtInd>{c.direction}</CdtDbtInd>{status}"
            f"<BookgDt><Dt>{c.booked}</Dt></BookgDt><ValDt><Dt>{c.booked}</Dt></ValDt>"
            + (f"<AcctSvcrRef>{escape(c.bank_ref)}</AcctSvcrRef>" if c.bank_ref else "")
            + f"<NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>{tx_amount}"
            f"<RltdPties><Dbtr>{debtor}</Dbtr></RltdPties>"
            + (f"<RmtInf>{remittance}</RmtInf>" if remittance else "")
            + "</TxDtls></NtryDtls></Ntry>")
