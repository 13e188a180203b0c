"""Which sender delivers which channel."""

from collections.abc import Callable, Mapping, Sequence

from sqlalchemy.orm import Session

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.notification.senders.base import Outgoing, Sender, Sent


class ChannelRouter:
    """Sends each message through the sender of its channel (SMS, e-mail, operator events, webhooks)."""

    def __init__(self, by_channel: dict[str, Sender], default: Sender) -> None:
        self.by_channel = by_channel
        self.default = default

    def send(self, message: Outgoing) -> Sent | None:
        return self.by_channel.get(message.channel, self.default).send(message)

    def close(self) -> None:
        """Unbind and hang up cleanly (SMPP) when the worker stops."""
        for sender in {*self.by_channel.values(), self.default}:
            closing = getattr(sender, "close", None)
            if closing:
                closing()


def make_sender(settings: Settings, db: Database,
                secret_sources: Mapping[str, Callable[[Session, dict], str | None]] | None = None,
                commands: Sequence = (), ussd_menu: Callable | None = None,
                wake: Callable[[], None] = lambda: None) -> Sender:
    """`secret_sources`: per topic, who keeps the key its webhooks are signed with, read from the message's
    payload (a cashback partner's postbacks: promotion.cashback.postback_secret); other webhooks are signed with
    the receiving endpoint's secret. `commands`: inbound SMS commands (notification.service.InboundCommand) the
    SMPP link hands received texts to. `ussd_menu` answers USSD over the same link (notification.service.UssdMenu);
    `wake` tells the worker an answer waits in the outbox."""
    from simkeep.notification import events
    from simkeep.notification.senders.file import FileSender
    from simkeep.notification.senders.webhook import WebhookSender

    if settings.sms_sender not in ("file", "smpp"):
        raise ValueError(f"unknown SIMKEEP_SMS_SENDER {settings.sms_sender!r} (available: file, smpp)")
    if settings.sms_sender == "smpp" and not settings.smpp_url:
        raise ValueError("SIMKEEP_SMS_SENDER=smpp needs SIMKEEP_SMPP_URL=smpp://SYSTEM_ID:PASSWORD@HOST:PORT")

    def secret_for(message: Outgoing) -> str | None:
        if message.topic == "webhook.sandbox":  # the sandbox provider signs with its own secret, while it is on
            return settings.sandbox_webhook_secret if settings.sandbox_on else None
        source = (secret_sources or {}).get(message.topic)
        with db.transaction(write=False) as session:
            if source is not None:
                return source(session, message.payload)
            return events.secret_for(session, message.recipient)

    by_channel: dict[str, Sender] = {"webhook": WebhookSender(secret_for)}
    if settings.sms_sender == "smpp" and settings.smpp_url:  # checked above: smpp has its URL
        from simkeep.notification.senders.smpp import SmppSender
        from simkeep.notification.tasks import DbListener

        by_channel["sms"] = by_channel["ussd"] = SmppSender(
            settings.smpp_url, listener=DbListener(db, commands, ussd_menu, wake),
            rate_per_second=settings.smpp_rate_per_second)
    if settings.smtp_url:
        from simkeep.notification.senders.smtp import SmtpSender

        by_channel["email"] = SmtpSender(settings.smtp_url, settings.mail_from)
    return ChannelRouter(by_channel, default=FileSender(settings.messages_log))


__all__ = ["ChannelRouter", "Outgoing", "Sender", "Sent", "make_sender"]
