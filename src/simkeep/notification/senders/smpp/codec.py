"""What travels in short_message: GSM-7 / UCS-2 user data, concatenation headers, receipts.

Encoding, as notification.segments decides it (so the template previews count the parts that really go out):
GSM 03.38 default alphabet (data_coding 0, extension table escaped with 0x1B, one septet per octet unless the
URL says `gsm7=packed`) when every character fits, after folding typography (no-break spaces, curly quotes,
dashes) to plain look-alikes; UCS-2 otherwise (data_coding 8, UTF-16-BE, so characters beyond the BMP travel
as surrogate pairs). Up to 160 septets / 70 UTF-16 units go in one submit_sm; longer texts are split into parts
of at most 153 septets / 67 units behind a UDH (esm_class 0x40, IE 00 03 ref total seq), never cutting an
escape sequence or a surrogate pair. The 8-bit reference comes from the outbox message id, so a retry sends the
same concatenation set again and the handset can discard parts it already holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from simkeep.notification import segments

# --- GSM 03.38 (the alphabet, folding and segmentation rules live in notification.segments) --------------
GSM7, UCS2 = 0x00, 0x08
UDHI = 0x40
_FROM_EXTENSION = {code: ch for ch, code in segments.EXTENSION.items()}


def gsm7_decode(septets: bytes) -> str:
    out, escaped = [], False
    for code in septets:
        if escaped:
            out.append(_FROM_EXTENSION.get(code, segments.BASIC[code & 0x7F]))
            escaped = False
        elif code == segments.ESCAPE:
            escaped = True
        else:
            out.append(segments.BASIC[code & 0x7F])
    return "".join(out)


def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    """GSM 03.38 packing, least significant bit first, after `fill_bits` zero bits (to align after a UDH).
    Seven spare bits at the end are filled with CR so they cannot read as a trailing '@' (23.038 §6.1.2.3.1)."""
    if (fill_bits + 7 * len(septets)) % 8 == 1:
        septets += b"\r"
    acc, nbits, out = 0, fill_bits, bytearray()
    for septet in septets:
        acc |= (septet & 0x7F) << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc)
    return bytes(out)


def unpack_septets(data: bytes, fill_bits: int = 0) -> bytes:
    bits = len(data) * 8 - fill_bits
    value = int.from_bytes(data, "little") >> fill_bits
    septets = bytes((value >> (7 * i)) & 0x7F for i in range(bits // 7))
    return septets[:-1] if bits % 7 == 0 and septets.endswith(b"\r") else septets


@dataclass(frozen=True, slots=True)
class Split:
    data_coding: int  # 0 GSM-7, 8 UCS-2
    chunks: list[bytes]  # per part, without UDH: septets one per octet, or UTF-16-BE

    @property
    def encoding(self) -> str:
        return "GSM-7" if self.data_coding == GSM7 else "UCS-2"


def split_text(text: str) -> Split:
    """How a text travels (segments.analyse: folded to GSM-7 when only typography stood in the way, cut into the
    parts the template previews count), each part encoded for short_message."""
    sms = segments.analyse(text)
    if sms.encoding == segments.GSM7:
        return Split(GSM7, [segments.gsm7_codes(part) for part in sms.parts])
    return Split(UCS2, [part.encode("utf-16-be") for part in sms.parts])


def user_data(split: Split, index: int, reference: int, *, packed: bool = False) -> tuple[int, bytes]:
    """esm_class and short_message of part `index` (0-based)."""
    total, chunk = len(split.chunks), split.chunks[index]
    udh = bytes([5, 0, 3, reference & 0xFF, total, index + 1]) if total > 1 else b""
    if split.data_coding == GSM7 and packed:
        chunk = pack_septets(chunk, fill_bits=1 if udh else 0)  # 48 UDH bits + 1 = 7 septets
    return (UDHI if udh else 0), udh + chunk


# --- receipts and inbound messages -----------------------------------------------------------------------
RECEIPT_TYPES = (0x04, 0x20)  # esm_class message type: SMSC delivery receipt, intermediate notification
FAILED_STATES = ("UNDELIV", "REJECTD", "EXPIRED", "DELETED", "UNKNOWN")
MESSAGE_STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD",
                  7: "UNKNOWN", 8: "REJECTD"}
_RECEIPT_ID, _RECEIPT_STAT = re.compile(r"(?i)\bid:\s*(\S+)"), re.compile(r"(?i)\bstat:\s*(\w+)")


def parse_receipt(pdu) -> tuple[str, str] | None:
    """(message id, stat) from a receipt deliver_sm: the SMPP 3.4 TLVs when present, else the receipt text."""
    text = message_content(pdu).decode("latin-1")
    found_id, found_stat = _RECEIPT_ID.search(text), _RECEIPT_STAT.search(text)
    message_id = c_string(pdu.receipted_message_id) or (found_id and found_id.group(1))
    stat = (found_stat and found_stat.group(1).upper()) or MESSAGE_STATES.get(pdu.message_state or 0)
    return (message_id, stat) if message_id and stat else None


def message_content(pdu) -> bytes:
    return bytes(pdu.short_message or pdu.message_payload or b"")


def c_string(value) -> str:
    """A PDU text field as str (smpplib gives bytes, or None when absent)."""
    return value.decode("latin-1") if isinstance(value, bytes) else (value or "")


def strip_udh(payload: bytes) -> tuple[bytes, tuple[int, int, int] | None]:
    """Strip a UDH; returns the rest and (reference, total, seq) if it is a concatenated part."""
    length = payload[0] if payload else 0
    header, rest, position, found = payload[1:1 + length], payload[1 + length:], 0, None
    while position + 2 <= len(header):
        iei, size = header[position], header[position + 1]
        value = header[position + 2:position + 2 + size]
        if iei == 0x00 and size == 3:
            found = (value[0], value[1], value[2])
        elif iei == 0x08 and size == 4:
            found = ((value[0] << 8) | value[1], value[2], value[3])
        position += 2 + size
    return rest, found


def decode_user_data(coding: int, data: bytes) -> str:
    if coding == UCS2:
        return data.decode("utf-16-be", errors="replace")
    if coding == GSM7:
        return gsm7_decode(data)
    return data.decode("ascii" if coding == 0x01 else "latin-1", errors="replace")
