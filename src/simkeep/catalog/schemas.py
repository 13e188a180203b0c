"""The catalog file's shape (validated on load) and the API's view of operators and offers."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Generic, Literal, TypeVar
from zoneinfo import available_timezones

from babel.numbers import list_currencies
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

T = TypeVar("T")
Status = Literal["sourced", "derived", "assumed"]

# ARCEP decision 2022-1583, 2.2.6: a number may not be reassigned for 45 to 120 days.
REASSIGN_DELAY_DAYS = {"FR": (45, 120), "US": (45, 90)}


GraceAccess = Literal["cs+ps", "cs", "ps", "none"]


class Figure(BaseModel, Generic[T]):
    """Every figure says where it comes from."""

    model_config = ConfigDict(extra="forbid")
    value: T
    status: Status
    note: str | None = None


class OfferFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,79}$")
    price: Figure[Decimal]
    bonus: Figure[Decimal]
    validity_days: Figure[int]
    # A multi-month renewal: N of the operator's periods bought at once (validity_days covers them all).
    periods: Figure[int] | None = None

    @field_validator("periods")
    @classmethod
    def _periods(cls, fig: Figure[int] | None) -> Figure[int] | None:
        if fig is not None and not 1 <= fig.value <= 24:
            raise ValueError("must be between 1 and 24 periods")
        return fig

    @field_validator("price", "bonus")
    @classmethod
    def _not_negative(cls, fig: Figure[Decimal]) -> Figure[Decimal]:
        if fig.value < 0:
            raise ValueError("must not be negative")
        return fig

    @field_validator("validity_days")
    @classmethod
    def _positive_days(cls, fig: Figure[int]) -> Figure[int]:
        if not 1 <= fig.value <= 3650:
            raise ValueError("must be between 1 and 3650 days")
        return fig


class OperatorFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")
    country: str = Field(pattern=r"^[A-Z]{2}$")
    brand: str
    product: str
    currency: str
    timezone: str
    model: str
    price_basis: str
    initial_validity_days: Figure[int]
    grace_days: Figure[int]
    suspended_days: Figure[int]
    quarantine_days: Figure[int]
    reminder_offsets_days: Figure[list[int]]
    validity_stacking: Figure[Literal["extend_from_current_expiry", "max_of_current_and_new"]]
    max_validity_days: Figure[int]
    forfeit_balance_on: Figure[Literal["grace", "deactivated"] | None]
    # What the network lets a line in grace do (network/: the HLR's network-access-mode). Active is always voice
    # and data, suspended nothing, deactivated removed; grace is the operator's call (receive-only: "cs").
    grace_network_access: Figure[GraceAccess] = Figure[GraceAccess](
        value="cs", status="assumed", note="receive-only period: calls and SMS kept, data off")
    # The networks its SIM cards live on (MCC-MNC, 5 or 6 digits): an imported card's IMSI must start with one.
    # Empty: no check (an operator whose host network is not known yet).
    mcc_mnc: Figure[list[str]] = Figure[list[str]](value=[], status="assumed", note="no check")
    offers: list[OfferFile] = Field(min_length=1)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in list_currencies():
            raise ValueError(f"unknown ISO 4217 currency {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in _zones():
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value

    @field_validator("initial_validity_days", "grace_days", "suspended_days")
    @classmethod
    def _days(cls, fig: Figure[int]) -> Figure[int]:
        if not 0 <= fig.value <= 3650:
            raise ValueError("must be between 0 and 3650 days")
        return fig

    @field_validator("mcc_mnc")
    @classmethod
    def _mcc_mnc(cls, fig: Figure[list[str]]) -> Figure[list[str]]:
        if any(not (code.isascii() and code.isdigit() and len(code) in (5, 6)) for code in fig.value):
            raise ValueError("must be MCC-MNC codes of 5 or 6 digits")
        if len(set(fig.value)) != len(fig.value):
            raise ValueError("must not repeat a code")
        return fig

    @field_validator("reminder_offsets_days")
    @classmethod
    def _offsets(cls, fig: Figure[list[int]]) -> Figure[list[int]]:
        if not fig.value or any(not 0 <= o <= 365 for o in fig.value) or len(set(fig.value)) != len(fig.value):
            raise ValueError("must be distinct day counts between 0 and 365")
        return fig

    @model_validator(mode="after")
    def _regulation(self) -> OperatorFile:
        low, high = REASSIGN_DELAY_DAYS.get(self.country, (2, 3650))
        if not low <= self.quarantine_days.value <= high:
            raise ValueError(
                f"quarantine_days: {self.country} operators must hold a number {low}-{high} days before "
                f"reassigning it, got {self.quarantine_days.value}"
            )
        if not 30 <= self.max_validity_days.value <= 3650:
            raise ValueError("max_validity_days: must be between 30 and 3650 days")
        longest = max(o.validity_days.value for o in self.offers)
        if longest > self.max_validity_days.value:
            raise ValueError(f"max_validity_days: an offer sells {longest} days, more than the cap")
        return self


class CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal[1]
    version: str
    description: str
    operators: list[OperatorFile] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> CatalogFile:
        seen: set[str] = set()
        for op in self.operators:
            for oid in [op.id, *(o.id for o in op.offers)]:
                if oid in seen:
                    raise ValueError(f"duplicate id {oid!r}")
                seen.add(oid)
        return self


class OfferOut(BaseModel):
    id: str
    price: dict
    bonus: dict
    validity_days: int


class OperatorOut(BaseModel):
    id: str
    country: str
    brand: str
    product: str
    currency: str
    timezone: str
    grace_days: int
    suspended_days: int
    quarantine_days: int
    max_validity_days: int
    reminder_offsets: list[int]
    validity_stacking: str
    offers: list[OfferOut]


@cache
def _zones() -> frozenset[str]:
    """The IANA names on this system, listed once per process: listing them walks the tz database's files."""
    return frozenset(available_timezones())
