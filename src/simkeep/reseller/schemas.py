from datetime import datetime

from pydantic import BaseModel, Field, StrictStr

from simkeep.line.schemas import MoneyOut, RequestBody


class ResellerOut(BaseModel):
    code: str
    name: str
    currency: str
    discount_bp: int = Field(description="the wholesale discount in basis points: 500 is 5 %")
    float_balance: MoneyOut = Field(description="what the float holds now")


class ResellerTopUpCreate(RequestBody):
    msisdn: StrictStr = Field(max_length=32, examples=["+33612345678"])
    offer_id: StrictStr = Field(max_length=80, examples=["fr-orange-mobicarte-10"])
    quote_id: StrictStr | None = Field(None, max_length=36, description="a quote from `POST /api/v1/reseller/quotes`"
                                       ": charged exactly, refused once expired or paid")


class ResellerQuoteCreate(RequestBody):
    msisdn: StrictStr = Field(max_length=32, examples=["+33612345678"])
    offer_id: StrictStr = Field(max_length=80, examples=["fr-orange-mobicarte-10"])


class ResellerQuoteOut(BaseModel):
    id: str
    msisdn: str = Field(description="masked: +336******78")
    offer_id: str
    channel: str
    list_price: MoneyOut
    price: MoneyOut = Field(description="charged for the renewal, the campaigns applied")
    paid: MoneyOut = Field(description="what the float would pay: the price less the commission")
    commission: MoneyOut
    bonus: MoneyOut
    bonus_days: int
    promotions: list[str] = Field(description="the names of the campaigns applied")
    validity_ends_at: datetime
    expires_at: datetime


class ResellerTopUpOut(BaseModel):
    id: str
    status: str
    msisdn: str = Field(description="masked: +336******78")
    offer_id: str
    channel: str
    amount: MoneyOut = Field(description="credited to the line")
    paid: MoneyOut = Field(description="taken from the float")
    commission: MoneyOut
    created_at: datetime
    quote_id: str | None = None


class StatementLineOut(BaseModel):
    at: datetime
    kind: str = Field(description="`reseller_deposit`, `voucher_sale` or `topup`")
    reference: str
    amount: MoneyOut = Field(description="what moved on the float: positive in, negative out")
    commission: MoneyOut
    balance: MoneyOut = Field(description="the float after it")


class StatementOut(BaseModel):
    code: str
    currency: str
    since: datetime | None
    until: datetime | None
    opening_balance: MoneyOut
    closing_balance: MoneyOut
    commission: MoneyOut = Field(description="earned in the period")
    lines: list[StatementLineOut]
