"""Money as integer minor units with a currency. Never float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision

from simkeep.core.errors import CurrencyMismatch, InvalidAmount


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise InvalidAmount()

    @classmethod
    def parse(cls, amount: str | int | Decimal, currency: str) -> Money:
        """'12.50' EUR -> Money(1250, 'EUR'); refuses fractions finer than the currency allows."""
        scaled = Decimal(str(amount)) * (10 ** minor_digits(currency))
        if scaled != scaled.to_integral_value():
            raise InvalidAmount(f"{amount} has more decimals than {currency} allows.")
        return cls(int(scaled), currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch()

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def as_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-minor_digits(self.currency))

    def format(self, locale: str = "en") -> str:
        return format_currency(self.as_decimal(), self.currency, locale=locale)

    def to_dict(self) -> dict[str, object]:
        return {"amount_minor": self.minor, "currency": self.currency}


def minor_digits(currency: str) -> int:
    return get_currency_precision(currency)
