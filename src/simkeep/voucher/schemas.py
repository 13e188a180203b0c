from datetime import datetime

from pydantic import BaseModel, Field, StrictInt, StrictStr

from simkeep.line.schemas import MoneyOut, RequestBody
from simkeep.topup.schemas import TopUpOut


class RedeemIn(RequestBody):
    msisdn: StrictStr = Field(max_length=32, examples=["+33612345678"],
                              description="the line to recharge: E.164 (+33612345678) or national (0612345678)")
    pin: StrictStr = Field(max_length=64, examples=["1234 5678 9012 347"],
                           description="the card's PIN, 15 digits; spaces, dashes and dots are ignored")


class RedemptionOut(TopUpOut):
    """The top-up the card made (channel `voucher`), with the card's serial."""

    voucher_serial: int


class EpinsCreate(RequestBody):
    offer_id: StrictStr = Field(max_length=80, examples=["fr-orange-mobicarte-10"])
    quantity: StrictInt = Field(ge=1, le=1000, examples=[10])


class EpinOut(BaseModel):
    serial: int
    pin: str = Field(description="15 digits; shown here and nowhere else (a replay of the request shows them again)")


class EpinPurchaseOut(BaseModel):
    purchase_id: str
    offer_id: str
    quantity: int
    serial_from: int
    serial_to: int
    face_value: MoneyOut = Field(description="of one card")
    total_face_value: MoneyOut
    paid: MoneyOut = Field(description="taken from the float: the face value less the discount")
    commission: MoneyOut = Field(description="the discount earned")
    expires_at: datetime
    created_at: datetime
    pins: list[EpinOut]


class PurchaseOut(BaseModel):
    id: str
    kind: str = Field(description="`epin` (bought through the API) or `physical` (printed cards, a serial range)")
    offer_id: str
    quantity: int
    serial_from: int
    serial_to: int
    face_value: MoneyOut = Field(description="of the whole purchase")
    paid: MoneyOut
    commission: MoneyOut
    created_at: datetime


class PurchasesOut(BaseModel):
    items: list[PurchaseOut]
