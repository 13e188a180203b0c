"""`simkeep audit verify | list | export`: exact outputs on an intact chain, an altered entry, a removed middle
entry, a rewritten entry, and a chain cut short at its end (caught only by the anchored head)."""

from __future__ import annotations

import csv
import io
import json

from simkeep.audit import chain
from tests.audit.helpers import record_three, tamper


def _at(entry) -> str:
    return chain.instant(entry.at)


def test_verify_an_intact_chain_prints_its_head(cli, db):
    assert cli("audit", "verify") == "0 entries, chain intact (empty log)\n"
    *_, third = record_three(db)
    assert cli("audit", "verify") == f"3 entries, chain intact (head hash {third.hash}, seq 3)\n"
    assert cli("audit", "verify", "--expect-head", third.hash) \
        == f"3 entries, chain intact (head hash {third.hash}, seq 3)\n"


def test_verify_names_the_entry_whose_reason_was_altered(cli, db):
    first, second, _ = record_three(db)
    tamper(db, "UPDATE audit_log SET reason = 'goodwill' WHERE seq = 2")
    recomputed = chain.entry_hash(seq=2, id=second.id, at=second.at, actor=second.actor, action=second.action,
                                  subject_type=second.subject_type, subject_id=second.subject_id, reason="goodwill",
                                  details=second.details, prev_hash=first.hash)
    assert cli("audit", "verify", code=1) == (
        f"chain broken seq 2 (id {second.id}, at {_at(second)}): content altered: its content hashes to "
        f"{recomputed}, the entry holds {second.hash}\n1 entries verified before the break\n")


def test_verify_names_the_gap_a_removed_entry_leaves(cli, db):
    *_, third = record_three(db)
    tamper(db, "DELETE FROM audit_log WHERE seq = 2")
    assert cli("audit", "verify", code=1) == (
        f"chain broken seq 3 (id {third.id}, at {_at(third)}): seq gap: entry 2 is missing\n"
        "1 entries verified before the break\n")


def test_verify_names_the_entry_after_one_rewritten_with_a_fresh_hash(cli, db):
    """Whoever recomputes an altered entry's own hash still breaks the link the next entry holds."""
    first, second, third = record_three(db)
    forged = chain.entry_hash(seq=2, id=second.id, at=second.at, actor=second.actor, action=second.action,
                              subject_type=second.subject_type, subject_id=second.subject_id, reason="goodwill",
                              details=second.details, prev_hash=first.hash)
    tamper(db, "UPDATE audit_log SET reason = 'goodwill', hash = :forged WHERE seq = 2", forged=forged)
    assert cli("audit", "verify", code=1) == (
        f"chain broken seq 3 (id {third.id}, at {_at(third)}): previous hash mismatch: it names {second.hash}, "
        f"the entry before it hashes to {forged} (that entry was rewritten, replaced or slipped in)\n"
        "2 entries verified before the break\n")


def test_the_anchored_head_catches_entries_removed_from_the_end(cli, db):
    _, second, third = record_three(db)
    tamper(db, "DELETE FROM audit_log WHERE seq = 3")
    assert cli("audit", "verify") == f"2 entries, chain intact (head hash {second.hash}, seq 2)\n"
    assert cli("audit", "verify", "--expect-head", third.hash, code=1) == (
        f"chain broken seq 2 (id {second.id}, at {_at(second)}): row missing: the anchored head {third.hash} is "
        f"not in the chain, which ends at {second.hash} (entries were removed from the end)\n"
        "2 entries verified before the break\n")


def test_list_filters_newest_first(cli, db):
    first, second, _ = record_three(db)
    listed = cli("audit", "list")
    assert [line.split("│")[1].strip() for line in listed.splitlines() if "│" in line] == ["3", "2", "1"]
    by_bob = cli("audit", "list", "--actor", "staff:bob")
    assert "voucher.block" in by_bob and second.hash[:12] in by_bob and "refund" not in by_bob
    assert "store.closed" in cli("audit", "list", "--action", "store")
    assert "no entries" in cli("audit", "list", "--action", "stor")  # a prefix stops at a dot
    assert "refund.requested" in cli("audit", "list", "--subject", first.subject_id)
    assert cli("audit", "list", "--since", "2027-03-01T09:01", "--until", "2027-03-01T09:02").count("│ 2 ") == 1
    assert "no entries" in cli("audit", "list", "--since", "2027-03-02")
    assert "'yesterday' is not a day" in cli("audit", "list", "--since", "yesterday", code=1)


def test_export_writes_every_entry_of_the_period_with_its_hashes(cli, db, tmp_path):
    entries = record_three(db)
    rows = list(csv.DictReader(io.StringIO(cli("audit", "export", "--from", "2027-03-01", "--to", "2027-03-01"))))
    assert [(r["seq"], r["actor"], r["hash"], r["prev_hash"]) for r in rows] == [
        (str(e.seq), e.actor, e.hash, e.prev_hash) for e in entries]
    assert json.loads(rows[0]["details"]) == {"amount_minor": 1000, "currency": "EUR"}
    assert cli("audit", "export", "--from", "2027-03-02") == \
        "seq,id,at,actor,action,subject_type,subject_id,reason,details,prev_hash,hash\n"
    out = tmp_path / "audit.jsonl"
    assert cli("audit", "export", "--format", "jsonl", "--output", str(out)) == f"3 entries written to {out}\n"
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    # an auditor can recompute each hash from the exported fields alone
    assert [chain.entry_hash(**{k: v for k, v in line.items() if k != "hash"} | {"at": e.at, "id": e.id})
            for line, e in zip(lines, entries, strict=True)] == [e.hash for e in entries]
    assert "csv or jsonl" in cli("audit", "export", "--format", "xml", code=1)
