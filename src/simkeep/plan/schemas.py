import datetime as dt

from pydantic import BaseModel, Field, StrictStr

from simkeep.line.schemas import MoneyOut, RequestBody


class PlanCreate(RequestBody):
    msisdn: StrictStr = Field(max_length=32, examples=["+33612345678"])
    until: dt.date = Field(description="keep the number at least until the end of this day (operator's zone)",
                        examples=["2027-09-01"])
    language: StrictStr = Field("en", max_length=8, description="zh_CN, fr or en: the explanation's language",
                                examples=["fr"])


class StepOut(BaseModel):
    date: dt.date
    offer_id: str
    price: MoneyOut
    list_price: MoneyOut
    validity_days: int
    periods: int
    bonus_days: int
    state: str = Field(description="the line's state when renewed: active, grace (receive-only) or suspended")
    validity_ends_on: dt.date = Field(description="the last valid day after this renewal")
    promotions: list[str]


class PlanOut(BaseModel):
    mode: str = Field(description="cheapest (may go through grace and suspension), reachable (never suspended) "
                                  "or active (never in grace nor suspended)")
    until: dt.date
    total: MoneyOut
    steps: list[StepOut]
    number_loss_on: dt.date = Field(description="the day the number would be lost after the last renewal")
    grace_days: int = Field(description="days until `until` the line is receive-only")
    suspended_days: int = Field(description="days until `until` the line is barred")
    explanation: str


class PlansOut(BaseModel):
    msisdn: str
    today: dt.date
    until: dt.date
    plan: PlanOut = Field(description="the cheapest plan")
    alternatives: list[PlanOut] = Field(description="plans that keep the line reachable or active, when they differ")
    note: str = Field(description="what the plan assumes")
