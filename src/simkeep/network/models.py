from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, UtcDateTime

# A SIM card's life in the operator's stock: received from the vendor (in stock), bound to a line (assigned), reported
# lost or stolen (lost: its IMSI is removed from the HLR at once), and retired for good (a swapped or deactivated card).
IN_STOCK, ASSIGNED, LOST, RETIRED = "in_stock", "assigned", "lost", "retired"
SIM_STATES = (IN_STOCK, ASSIGNED, LOST, RETIRED)
PHYSICAL, ESIM = "physical", "esim"

# What the network lets a subscriber do, in osmo-hlr's words (network-access-mode): cs = the circuit-switched domain
# (calls and SMS), ps = the packet-switched domain (data). ABSENT: not in the HLR at all (the number is cleared).
ABSENT, NONE, CS, PS, CS_PS = "absent", "none", "cs", "ps", "cs+ps"
MODES = (ABSENT, NONE, CS, PS, CS_PS)

# A provisioning command: written with the state change (pending), then done when the network confirmed it, or
# superseded when a later command for the same IMSI was written before it was sent (only the latest state matters).
PENDING, DONE, SUPERSEDED = "pending", "done", "superseded"


class Sim(Base):
    """One SIM card (or eSIM profile's subscription) from the vendor's file: the ICCID printed on it and the IMSI the
    network knows it by. The card's secret keys (Ki, OPc) belong to the authentication centre and are not kept here."""

    __tablename__ = "sims"
    __table_args__ = (
        # One card per line at a time: the guard a SIM swap relies on.
        Index("uq_sims_assigned_line", "line_id", unique=True,
              sqlite_where=text("state = 'assigned'"), postgresql_where=text("state = 'assigned'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    iccid: Mapped[str] = mapped_column(String(22), unique=True)
    imsi: Mapped[str] = mapped_column(String(15), unique=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    profile: Mapped[str] = mapped_column(String(64))  # the operator's card profile (vendor's name for the batch)
    kind: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(10))
    line_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lines.id"), index=True)
    import_ref: Mapped[str] = mapped_column(String(120))  # the vendor file it came from
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state_changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NetworkNumber(Base):
    """A number the operator holds (imported from its number ranges). Free, assigned or in quarantine is not stored:
    the line lifecycle decides it (a live line holds the number; a line in quarantine keeps it from reuse)."""

    __tablename__ = "network_numbers"

    msisdn: Mapped[str] = mapped_column(String(16), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    import_ref: Mapped[str] = mapped_column(String(120))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NetworkLine(Base):
    """What the network should hold for a line with a SIM (desired, from its state and the operator's rules) and what
    it was last confirmed to hold. A line without a SIM has no row: there is nothing to provision."""

    __tablename__ = "network_lines"

    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    msisdn: Mapped[str] = mapped_column(String(16))
    imsi: Mapped[str] = mapped_column(String(15), index=True)
    line_state: Mapped[str] = mapped_column(String(12))
    desired: Mapped[str] = mapped_column(String(8))
    desired_seq: Mapped[int] = mapped_column(Integer)  # the seq of the command that set it
    desired_at: Mapped[datetime] = mapped_column(UtcDateTime)
    confirmed: Mapped[str | None] = mapped_column(String(8))  # None: never confirmed yet
    confirmed_seq: Mapped[int] = mapped_column(Integer, default=0)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)  # the last drift check
    drift: Mapped[str | None] = mapped_column(String(200))  # what the last check found different, None if nothing


class ProvisioningCommand(Base):
    """The provisioning outbox: one row per desired state, written in the transaction that changed the line, sent by
    the worker in seq order per line. Each says the whole state (IMSI, MSISDN, mode), so sending it twice is harmless."""

    __tablename__ = "provisioning_commands"
    __table_args__ = (
        UniqueConstraint("line_id", "seq"),
        Index("ix_provisioning_commands_due", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"))
    seq: Mapped[int] = mapped_column(Integer)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    imsi: Mapped[str] = mapped_column(String(15))
    msisdn: Mapped[str | None] = mapped_column(String(16))  # None with ABSENT: the number is cleared
    mode: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(40))  # the line state, or swap / lost / drift / bind
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Set while a worker sends it: the line's later commands wait, and a crashed worker's lease runs out (resent).
    leased_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The web request that wrote it (X-Request-Id): the worker logs its sending under the same id.
    request_id: Mapped[str | None] = mapped_column(String(64))


class EsimProfile(Base):
    """An eSIM profile prepared by the operator's SM-DP+ provider: its `sims` row (kind ESIM: ICCID, IMSI, state,
    line) and what a phone needs to download it (GSMA SGP.22 activation code). The matching ID is a bearer secret —
    whoever holds the code may download the profile — so it is kept sealed (AES-GCM, SIMKEEP_ESIM_SEAL_KEY, bound to
    the profile's ICCID) and never logged."""

    __tablename__ = "esim_profiles"

    sim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sims.id"), primary_key=True)
    smdp_address: Mapped[str] = mapped_column(String(253))
    matching_id_sealed: Mapped[str] = mapped_column(Text)
    smdp_oid: Mapped[str | None] = mapped_column(String(120))  # SGP.22 field 4: the SM-DP+ OID, if the code names one
    confirmation_code_required: Mapped[bool] = mapped_column(default=False)  # field 5 "1": the phone asks for a code
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When the code was shown without a signed-in session (the e-mailed link): at most once, then sign-in is needed.
    shown_publicly_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
