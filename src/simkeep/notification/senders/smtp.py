"""E-mail over SMTP: multipart/alternative (plain text and the same text as simple HTML), UTF-8 throughout, and a
Message-ID made of the outbox message id, so receivers can deduplicate a message sent twice after a crash.

SIMKEEP_SMTP_URL is smtp://USER:PASSWORD@HOST:PORT (STARTTLS whenever the server offers it; port 25 by default)
or smtps://USER:PASSWORD@HOST:PORT (TLS from the first byte; port 465 by default). Credentials are optional, and
never sent over an unencrypted connection except to this machine.

Failures: a 4xx reply, a dropped or refused connection, a TLS or login problem (the server's or our set-up, not
the message's fault) -> TemporaryFailure; a 5xx reply to the message itself (MAIL FROM, RCPT TO, DATA) ->
PermanentFailure. One connection per message: e-mail volumes are small, and nothing stale is kept between sends.
"""

from __future__ import annotations

import html
import re
import smtplib
import ssl
from email.errors import MessageError
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, parseaddr
from urllib.parse import unquote, urlsplit

from simkeep.core import clock
from simkeep.locale import languages
from simkeep.notification import templates
from simkeep.notification.senders.base import Outgoing, PermanentFailure, Sent, TemporaryFailure

LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")
URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'*+,;=%]+")
TRAILING = ".,;:!?'"


def message_id(message: Outgoing) -> str:
    return f"<{message.id}@simkeep>"


class SmtpSender:
    def __init__(self, url: str, mail_from: str, *, timeout: float = 30.0,
                 ssl_context: ssl.SSLContext | None = None, local_hostname: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SIMKEEP_SMTP_URL must look like smtp://USER:PASSWORD@HOST:PORT or smtps://...")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password or "")
        self.mail_from = mail_from
        self.envelope_from = parseaddr(mail_from)[1] or mail_from
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.local_hostname = local_hostname

    def send(self, message: Outgoing) -> Sent:
        try:
            email = self.compose(message)
        except (ValueError, TypeError, MessageError) as exc:  # e.g. a recipient that is no e-mail address
            raise PermanentFailure(f"cannot compose the e-mail: {exc}") from exc
        international = not (self.envelope_from.isascii() and message.recipient.isascii())
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, TLS or login trouble
            raise TemporaryFailure(_describe(exc)) from exc
        try:
            options = []
            if international:
                if not smtp.has_extn("smtputf8"):
                    raise PermanentFailure(f"{self.host} does not accept non-ASCII addresses (no SMTPUTF8)")
                options = ["SMTPUTF8", "BODY=8BITMIME"]
            body = email.as_bytes(policy=SMTPUTF8 if international else SMTP)
            _expect(smtp.mail(self.envelope_from, options), (250,), "MAIL FROM")
            _expect(smtp.rcpt(message.recipient), (250, 251), "RCPT TO")
            code, reply = smtp.data(body)
            _expect((code, reply), (250,), "DATA")
        except smtplib.SMTPResponseException as exc:  # DATA refused before the body was sent
            raise _failure(exc.smtp_code, exc.smtp_error, "DATA") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(_describe(exc)) from exc
        finally:
            _close(smtp)
        return Sent(external_id=message_id(message), detail=f"{code} {_text(reply)}")

    def compose(self, message: Outgoing) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.mail_from
        email["To"] = Address(addr_spec=message.recipient) if message.recipient.isascii() else message.recipient
        email["Subject"] = _Subject(templates.subject(message.topic, message.language, message.payload))
        email["Date"] = format_datetime(clock.now())
        email["Message-ID"] = message_id(message)
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
        email.set_content(message.text, charset="utf-8")
        email.add_alternative(to_html(message.text, message.language), subtype="html", charset="utf-8")
        email["Content-Language"] = languages.tag(message.language)  # after: set_content clears Content-*
        return email

    def _connect(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.ssl_context,
                                    local_hostname=self.local_hostname)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname)
        try:
            smtp.ehlo()
            encrypted = self.implicit_tls
            if not encrypted and smtp.has_extn("starttls"):
                smtp.starttls(context=self.ssl_context)
                smtp.ehlo()
                encrypted = True
            if self.username:
                if not encrypted and self.host not in LOCAL_HOSTS:
                    raise smtplib.SMTPException(f"{self.host} offers no STARTTLS: credentials not sent in clear")
                smtp.login(self.username, self.password)
        except BaseException:
            _close(smtp)
            raise
        return smtp


class _Subject(str):
    """A subject folded as whole RFC 2047 encoded words when it is not ASCII. The email package's own folding can
    break a line between plain text and an encoded word and so add a space ("votre  numéro") to French subjects."""

    name = "Subject"  # the email policy stores and folds an object with a name as it is

    def fold(self, *, policy) -> str:
        if self.isascii():
            return policy.fold(self.name, str(self))
        encoded = Header(str(self), "utf-8", header_name=self.name).encode(linesep=policy.linesep)
        return f"{self.name}: {encoded}{policy.linesep}"


def to_html(text: str, language: str = "en") -> str:
    """The plain text as a small HTML document: escaped, line breaks kept, links clickable."""
    pieces, last = [], 0
    for match in URL.finditer(text):
        url = match.group().rstrip(TRAILING)
        end = match.start() + len(url)
        pieces.append(html.escape(text[last:match.start()]))
        pieces.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        last = end
    pieces.append(html.escape(text[last:]))
    body = "".join(pieces).replace("\r\n", "\n").replace("\n", "<br>\n")
    lang = languages.tag(language)
    return (f'<!doctype html>\n<html lang="{lang}">\n<head><meta charset="utf-8"><title>simkeep</title></head>\n'
            f'<body style="font-family: sans-serif; line-height: 1.5">\n<p>{body}</p>\n</body>\n</html>\n')


def _expect(answer: tuple[int, bytes], ok: tuple[int, ...], step: str) -> None:
    code, reply = answer
    if code not in ok:
        raise _failure(code, reply, step)


def _failure(code: int, reply: bytes | str, step: str) -> Exception:
    detail = f"{step}: {code} {_text(reply)}"
    return PermanentFailure(detail) if 500 <= code < 600 else TemporaryFailure(detail)


def _text(reply: bytes | str) -> str:
    return (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)).replace("\n", " ")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
