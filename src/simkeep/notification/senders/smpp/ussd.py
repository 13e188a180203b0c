"""USSD over the SMPP bind: service_type "USSD", TLVs ussd_service_op (0x0501) and its_session_info (0x1383).

smpplib's DeliverSM lists its_session_info but not ussd_service_op, so an inbound USSD PDU would not parse;
`extend_deliver_sm` adds it to the class's parameter table (the same entry SubmitSM has). The menu itself lives
above notification (simkeep.ussd); this module only moves its screens: one screen per PDU, never segmented,
GSM-7 (one septet per octet, or packed as the link's SMS are) when it fits, UCS-2 otherwise.
"""

from __future__ import annotations

from smpplib.command import DeliverSM, Param

from simkeep.notification import outbox, segments
from simkeep.notification.senders.base import UssdIn
from simkeep.notification.senders.smpp.codec import GSM7, UCS2, c_string, decode_user_data, pack_septets, unpack_septets

CHANNEL, SERVICE_TYPE = outbox.USSD, "USSD"
USSD_SERVICE_OP = "ussd_service_op"
# data_coding values handsets' USSD arrives with: GSM 7-bit (0x00, or 0x0F "language unspecified"), UCS-2 (0x08,
# or 0x48 with a message class).
_CODINGS = {0x00: GSM7, 0x0F: GSM7, 0x08: UCS2, 0x48: UCS2}


def extend_deliver_sm() -> None:
    if USSD_SERVICE_OP not in DeliverSM.params:
        DeliverSM.params = {**DeliverSM.params, USSD_SERVICE_OP: Param(type=int, size=1)}
        DeliverSM.params_order = (*DeliverSM.params_order, USSD_SERVICE_OP)


extend_deliver_sm()


def is_ussd(pdu) -> bool:
    return c_string(pdu.service_type).upper() == SERVICE_TYPE or getattr(pdu, USSD_SERVICE_OP, None) is not None


def read(pdu, *, packed: bool) -> UssdIn:
    coding = _CODINGS.get(pdu.data_coding or 0, pdu.data_coding or 0)
    data = bytes(pdu.short_message or pdu.message_payload or b"")
    if coding == GSM7 and packed:
        data = unpack_septets(data)
    sender = c_string(pdu.source_addr)
    return UssdIn(sender="+" + sender if sender.isdigit() else sender, text=decode_user_data(coding, data),
                   op=getattr(pdu, USSD_SERVICE_OP, None), session_info=pdu.its_session_info)


def encode(text: str, *, packed: bool) -> tuple[int, bytes]:
    """data_coding and short_message of one USSD screen (typography folded to GSM-7 where that is enough)."""
    folded = segments.fold(text)
    if segments.is_gsm7(folded):
        septets = segments.gsm7_codes(folded)
        return GSM7, pack_septets(septets) if packed else septets
    return UCS2, text.encode("utf-16-be")


def submit_fields(payload: dict, destination: str, *, packed: bool) -> dict:
    """submit_sm fields of one screen: `payload` is what simkeep.ussd queued ({text, op, session_info})."""
    data_coding, short_message = encode(payload["text"], packed=packed)
    return dict(service_type=SERVICE_TYPE, dest_addr_ton=1, dest_addr_npi=1, destination_addr=destination,
                esm_class=0, protocol_id=0, priority_flag=0, registered_delivery=0, replace_if_present_flag=0,
                data_coding=data_coding, sm_default_msg_id=0, short_message=short_message,
                ussd_service_op=int(payload["op"]), its_session_info=int(payload["session_info"]))
