"""Build src/simkeep/catalog/data/operators.json from the shared example catalog, keeping every figure's
sourced / derived / assumed status and note, and filling what the source lacks with marked assumptions.

    python scripts/build_catalog.py [path/to/example-operators.json]
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "catalog" / "example-operators.json"
TARGET = ROOT / "src" / "simkeep" / "catalog" / "data" / "operators.json"
src = json.load(SOURCE.open(encoding="utf-8"))
ops = {o["id"]: o for o in src["operators"]}
TZ = {
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "HK": "Asia/Hong_Kong",
    "CN": "Asia/Shanghai",
    "US": "America/New_York",
}
offsets_default = src["lifecycle_defaults"]["reminder_offsets_days_before_number_loss"]
# Product names as the brands write them for their readers (the source keeps to ASCII: "Carte prepayee"); pages,
# receipts and the API show these.
DISPLAY = {
    "fr-bouygues-carte": "Carte prépayée",
    "fr-laposte-carte": "Carte prépayée",
    "fr-syma": "Carte prépayée",
    "fr-lebara": "Carte prépayée",
    "fr-lycamobile": "Carte prépayée",
    "fr-free-2eur": "Forfait 2\u00a0€",
    "cn-cmcc-8yuan": "8元保号套餐（深圳）",
}


def fig(value, status, note=None):
    d = {"value": value, "status": status}
    if note:
        d["note"] = note
    return d


def copyfig(o, key, default, status="assumed", note=None):
    if key in o:
        f = dict(o[key])
        f.pop("source", None)
        return f
    return fig(default, status, note)


out = {
    "format": 1,
    "version": "2026-11-29.1",
    "description": "simkeep operator catalog, built from shared/catalog/example-operators.json. EXAMPLE DATA, not current tariffs. Every figure carries its status: sourced, derived or assumed.",
    "operators": [],
}


def add(oid, offers, extra=None, tz=None):
    o = ops[oid]
    rec = {
        "id": oid,
        "country": o["country"],
        "brand": o["brand"],
        "product": DISPLAY.get(oid, o["product"]),
        "currency": o["currency"],
        "timezone": tz or TZ[o["country"]],
        "model": o["model"],
        "price_basis": o["price_basis"],
        "initial_validity_days": copyfig(o, "initial_validity_days", 30, note="starter validity not sourced"),
        "grace_days": copyfig(o, "grace_receive_only_days", 0),
        "suspended_days": copyfig(
            o,
            "suspended_days",
            30,
            note="not in source; two-way barring of 10 days to 3 months is seen elsewhere (DOMAIN 4)",
        ),
        "quarantine_days": copyfig(o, "recycle_quarantine_days", 90),
        "reminder_offsets_days": dict(o.get("reminders_days_before_loss", offsets_default)),
        "validity_stacking": {"value": "extend_from_current_expiry", "status": "assumed"},
        "max_validity_days": fig(730, "assumed", "cap on accumulated validity (2 years ahead)"),
        "forfeit_balance_on": fig(
            "deactivated", "assumed", "remaining credit is forfeited when the line is deactivated"
        ),
        "offers": offers,
    }
    if "validity_stacking" in o:
        v = o["validity_stacking"]["value"]
        rec["validity_stacking"] = {
            "value": "max_of_current_and_new" if v.startswith("max(") else v,
            "status": o["validity_stacking"]["status"],
            **({"note": f"source wording: {v}"} if v.startswith("max(") else {}),
        }
    if "reminders_days_before_loss" in o:
        rec["reminder_offsets_days"] = {
            "value": sorted(set(o["reminders_days_before_loss"]["value"] + offsets_default["value"]), reverse=True),
            "status": "derived",
            "note": "operator's sourced offset merged with simkeep defaults",
        }
    rec["reminder_offsets_days"].pop("note", None) if "reminders_days_before_loss" not in o else None
    if extra:
        rec.update(extra)
    out["operators"].append(rec)


def denoms(oid):
    res = []
    for d in ops[oid]["denominations"]:
        v = dict(d["validity_days"])
        res.append(
            {
                "id": f"{oid}-{d['amount']}",
                "price": str(d["amount"]),
                "bonus": str(d["bonus"]),
                "validity_days": v,
                "price_status": "assumed" if ops[oid]["price_basis"].startswith("none found") else "sourced",
            }
        )
    return res


for oid in [
    "fr-orange-mobicarte",
    "fr-sfr-la-carte",
    "fr-bouygues-carte",
    "fr-laposte-carte",
    "fr-syma",
    "fr-lebara",
    "fr-lycamobile",
]:
    add(oid, denoms(oid))
add(
    "fr-free-2eur",
    [
        {
            "id": "fr-free-2eur-month",
            "price": "2",
            "bonus": "0",
            "validity_days": fig(30, "assumed", "one month of the 2 EUR plan, month = 30 days"),
            "price_status": "sourced",
        }
    ],
    {
        "grace_days": fig(0, "assumed", "postpaid: unpaid-bill handling not researched"),
        "suspended_days": fig(15, "assumed"),
    },
)
add(
    "hk-shinetown-huamei",
    denoms("hk-shinetown-huamei"),
    {"forfeit_balance_on": fig("grace", "sourced", "after expiry balance and number void")},
)
add("hk-clubsim", denoms("hk-clubsim"))
add(
    "cn-cmcc-8yuan",
    [
        {
            "id": "cn-cmcc-8yuan-month",
            "price": "8",
            "bonus": "0",
            "validity_days": fig(30, "derived", "monthly fee, month = 30 days"),
            "price_status": "sourced",
        },
        {
            "id": "cn-cmcc-8yuan-year",
            "price": "96",
            "bonus": "0",
            "validity_days": fig(360, "derived", "12 monthly fees"),
            "price_status": "derived",
        },
    ],
    {"suspended_days": fig(90, "sourced", "arrears to cancellation: 3 months (low-confidence community source)")},
)
add(
    "us-ultra-paygo",
    [
        {
            "id": "us-ultra-paygo-30d",
            "price": "3",
            "bonus": "0",
            "validity_days": fig(30, "sourced", "cycle_days"),
            "price_status": "sourced",
        }
    ],
    {"grace_days": fig(60, "sourced", "grace after missed payment, community-quoted official rule")},
)
add(
    "us-tello",
    [
        {
            "id": "us-tello-30d",
            "price": "5",
            "bonus": "0",
            "validity_days": fig(30, "sourced", "cycle_days"),
            "price_status": "sourced",
        }
    ],
)
add(
    "uk-asda",
    [
        {
            "id": "uk-asda-10",
            "price": "10",
            "bonus": "0",
            "validity_days": fig(180, "sourced", "top-up within 180 days keeps the line"),
            "price_status": "assumed",
        }
    ],
)
for o in out["operators"]:
    for off in o["offers"]:
        st = off.pop("price_status")
        off["price"] = {"value": off["price"], "status": st}
        off["bonus"] = {"value": off["bonus"], "status": st}
with TARGET.open("w", encoding="utf-8") as fh:
    json.dump(out, fh, indent=2, ensure_ascii=False)
print(len(out["operators"]), sum(len(o["offers"]) for o in out["operators"]))
