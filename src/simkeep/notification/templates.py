"""Message texts per topic and language, with amounts and dates formatted for the reader's locale."""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.dates import format_date

from simkeep.core.clock import zone
from simkeep.core.money import Money

TEXTS: dict[str, dict[str, str]] = {
    "topup.completed": {
        "en": "Your top-up of {amount} on {msisdn} is done. Your line is valid until {validity_end}.",
        "fr": "Votre recharge de {amount} sur le {msisdn} est effectuée. Votre ligne est valable jusqu'au {validity_end}.",
        "zh_CN": "您的号码 {msisdn} 已成功充值 {amount}，有效期至 {validity_end}。",
    },
    "reminder": {
        "en": "Your number {msisdn} will be lost after {loss_date} unless you recharge. Recharge now to keep it.",
        "fr": "Votre numéro {msisdn} sera perdu après le {loss_date} sans recharge. Rechargez dès maintenant pour le garder.",
        "zh_CN": "您的号码 {msisdn} 如不充值将在 {loss_date} 之后被回收。请尽快充值以保留号码。",
    },
    "line.grace": {
        "en": "The validity of {msisdn} has ended: you can only receive calls. Recharge by {loss_date} to keep your number.",
        "fr": "La validité du {msisdn} est terminée : vous ne pouvez plus que recevoir des appels. Rechargez au plus tard le {loss_date} pour garder votre numéro.",
        "zh_CN": "号码 {msisdn} 有效期已结束，目前仅可接听。请在 {loss_date}（含）之前充值以保留号码。",
    },
    "line.suspended": {
        "en": "{msisdn} is suspended. Recharge by {loss_date} or the number will be lost.",
        "fr": "Le {msisdn} est suspendu. Rechargez au plus tard le {loss_date}, sinon le numéro sera perdu.",
        "zh_CN": "号码 {msisdn} 已双向停机。请在 {loss_date}（含）之前充值，否则号码将被回收。",
    },
    "line.deactivated": {
        "en": "{msisdn} has been deactivated and can no longer be recharged.",
        "fr": "Le {msisdn} a été résilié et ne peut plus être rechargé.",
        "zh_CN": "号码 {msisdn} 已销户，无法再充值。",
    },
    "payment.refunded": {
        "en": "{amount} has been refunded for your top-up of {msisdn}. It reaches your account within a few days.",
        "fr": "{amount} vous ont été remboursés pour la recharge du {msisdn}. Le remboursement arrive sous quelques jours.",
        "zh_CN": "您为号码 {msisdn} 充值的 {amount} 已退款，将在几天内到账。",
    },
    "reminders.stopped": {
        "en": "You will no longer receive reminders for {msisdn}. Recharge in time to keep your number.",
        "fr": "Vous ne recevrez plus de rappels pour le {msisdn}. Pensez à recharger à temps pour garder votre numéro.",
        "zh_CN": "号码 {msisdn} 将不再收到提醒。请记得按时充值以保留号码。",
    },
    "otp.code": {
        "en": "Your simkeep code is {code}. It is valid for {minutes} minutes. Never share it.",
        "fr": "Votre code simkeep est {code}. Il est valable {minutes} minutes. Ne le communiquez à personne.",
        "zh_CN": "您的 simkeep 验证码为 {code}，{minutes} 分钟内有效。请勿告诉他人。",
    },
    "receipt": {
        "en": " Receipt: {receipt_url}",
        "fr": " Reçu : {receipt_url}",
        "zh_CN": " 收据：{receipt_url}",
    },
}
LOCALES = {"en": "en", "fr": "fr", "zh_CN": "zh_Hans_CN"}


def render(topic: str, language: str, payload: dict) -> str:
    fields = _fields(payload, LOCALES.get(language, "en"))
    text = _pick(topic, language).format_map(fields)
    if payload.get("receipt_url"):
        text += _pick("receipt", language).format_map(fields)
    return text


def _pick(topic: str, language: str) -> str:
    texts = TEXTS.get(topic, {})
    return texts.get(language) or texts.get("en") or topic


def _fields(payload: dict, locale: str) -> dict:
    fields = dict(payload)
    tz = payload.get("timezone", "UTC")
    if "amount" in payload:
        fields["amount"] = Money(payload["amount"]["amount_minor"], payload["amount"]["currency"]).format(locale)
    if "validity_ends_at" in payload:
        fields["validity_end"] = _last_day(payload["validity_ends_at"], tz, locale)
    if "number_loss_at" in payload:
        fields["loss_date"] = _last_day(payload["number_loss_at"], tz, locale)
    return fields


def _last_day(instant: str, tz: str, locale: str) -> str:
    """Validity ends at local midnight; people expect the last day it still works."""
    end = datetime.fromisoformat(instant).astimezone(zone(tz))
    return format_date((end - timedelta(microseconds=1)).date(), format="long", locale=locale)
