"""eSIM profiles for tests: valid ICCIDs (Luhn), IMSIs and the provider's CSV."""

from __future__ import annotations

from datetime import datetime

from simkeep.catalog import service as catalog
from simkeep.config import Settings
from simkeep.db import Database
from simkeep.network import esim
from simkeep.network.inventory import iccid_problem

SMDP = "smdp.example.com"


def iccid(serial: int) -> str:
    """A 19-digit ICCID (89 33 01 + serial) with its Luhn check digit."""
    body = f"893301{serial:012d}"
    for check in "0123456789":
        if iccid_problem(body + check) is None:
            return body + check
    raise AssertionError("no check digit")


def imsi(serial: int) -> str:
    return f"20801{serial:010d}"


def matching_id(serial: int) -> str:
    return f"QR-G-5C-1LS-{serial:08d}"


def csv_text(serials: range, *, extra: str = "") -> str:
    rows = [f"{iccid(n)},{imsi(n)},{SMDP},{matching_id(n)}" for n in serials]
    return "iccid,imsi,smdp_address,matching_id\n" + "\n".join(rows) + "\n" + extra


def stock(db: Database, settings: Settings, serials: range, *, now: datetime,
          operator_id: str = "fr-orange-mobicarte") -> int:
    with db.transaction() as session:
        return esim.import_profiles(session, text=csv_text(serials), operator=catalog.get_operator(session, operator_id),
                                    profile="esim-v1", import_ref="smdp-batch-1.csv", key=esim.seal_key(settings),
                                    actor="test", now=now)
