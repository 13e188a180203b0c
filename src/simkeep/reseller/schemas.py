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
