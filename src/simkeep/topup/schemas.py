from datetime import datetime

from pydantic import BaseModel, Field, StrictStr

from simkeep.line.schemas import MoneyOut, RequestBody


class TopUpCreate(RequestBody):
    msisdn: StrictStr = Field(max_length=32, examples=["+33612345678"])
    offer_id: StrictStr = Field(max_length=80, examples=["fr-orange-mobicarte-10"])
    channel: StrictStr = Field("api", max_length=16, examples=["portal"])
    quote_id: StrictStr | None = Field(None, max_length=36, description="The quote shown to the payer "
                                       "(`POST /api/v1/quotes`): charged exactly, refused once expired or paid.")


class QuoteCreate(RequestBody):
    msisdn: StrictStr = Field(max_length=32, examples=["+33612345678"])
    offer_id: StrictStr = Field(max_length=80, examples=["fr-free-2eur-12x"])
    channel: StrictStr = Field("api", max_length=16, examples=["portal"])
    code: StrictStr | None = Field(None, max_length=32, description="a promo code (case-insensitive)")
    partner: StrictStr | None = Field(None, max_length=32, description="the cashback or affiliate partner's code")


class AppliedOut(BaseModel):
    promotion_id: str
    name: str
    benefit: str = Field(description="percent_off, amount_off, bonus_credit, bonus_days or cashback_percent")
    discount: MoneyOut
    bonus: MoneyOut
    bonus_days: int
    cashback: MoneyOut


class QuoteOut(BaseModel):
    id: str
    msisdn: str
    offer_id: str
    channel: str
    list_price: MoneyOut
    discount: MoneyOut
    price: MoneyOut = Field(description="what the payer pays")
    bonus: MoneyOut = Field(description="bonus credit: the offer's and the campaigns'")
    bonus_days: int
    cashback: MoneyOut = Field(description="credited as bonus after the cooling-off period")
    applied: list[AppliedOut]
    validity_ends_at: datetime = Field(description="the validity end if paid now")
    expires_at: datetime = Field(description="the price holds until then")


class TopUpOut(BaseModel):
    id: str
    status: str
    msisdn: str
    offer_id: str
    channel: str
    amount: MoneyOut
    bonus: MoneyOut
    validity_ends_at: datetime
    created_at: datetime
    quote_id: str | None
