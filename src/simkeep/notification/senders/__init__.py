from simkeep.config import Settings
from simkeep.notification.senders.base import Sender


def make_sender(settings: Settings) -> Sender:
    if settings.sms_sender == "file":
        from simkeep.notification.senders.file import FileSender

        return FileSender(settings.messages_log)
    raise ValueError(f"unknown SIMKEEP_SMS_SENDER {settings.sms_sender!r} (available: file)")
