"""SMS over SMPP 3.4 (smpplib for the PDUs): one transceiver bind, kept alive and rebound by a session thread.

codec: GSM-7 / UCS-2 user data, segmentation and concatenation headers, receipts and inbound messages.
link: the socket, bind, enquire_link, reconnect with backoff and the request/response exchange.
sender: SmppSender (pacing, delivery outcomes, temporary vs permanent errors, receipts folded per message)
and the smpp:// URL it is configured by.
"""

from simkeep.notification.senders.smpp.codec import pack_septets, split_text
from simkeep.notification.senders.smpp.sender import RateLimiter, SmppSender

__all__ = ["RateLimiter", "SmppSender", "pack_septets", "split_text"]
