"""Message texts per topic and language, with amounts, dates and counts formatted by `simkeep.locale` for the
reader: the message's language, in the region of the line's number where that language is spoken there.

`render(topic, language, payload)` gives the text of an SMS (and the body of the same message by e-mail),
`subject(...)` the e-mail subject, `sms(...)` the text as it travels by SMS with its encoding and segment count.
French and English texts keep to the GSM 03.38 alphabet (no ç, ê, â, î, ô, û): a single such letter would make
the whole SMS UCS-2, 70 characters a segment instead of 160. Babel's no-break spaces are folded by `segments`.

Spacing (checked for every text in every language by tests/notification/test_spacing.py): never two spaces, nor
one at either end. English: no space before . , ; : ! ?. French: a no-break space (U+00A0) before ":" and a narrow
one (U+202F) before ; ! ? — folded to a plain space when the SMS goes as GSM-7, kept in the e-mail. Chinese: no
space next to a Chinese character or full-width punctuation mark at all — numbers, amounts, dates and Latin words
sit against the Chinese text as Chinese carriers' own SMS write them (each space would also cost one of the 70
UCS-2 units of a segment); a link comes last, so no Chinese character is read as part of it.

Payloads (what the producers put in the outbox row):
- otp.code: {code, minutes}
- topup.completed: {msisdn, amount, bonus?, validity_ends_at, timezone, receipt_url?, store?} (store: the name of
  the store whose counter sold it)
- reminder: {msisdn, days_before, number_loss_at, timezone, state,
             cheapest_offer: {id, amount: {amount_minor, currency}, validity_days} | null, renew_url,
             keep_plan?: {until, currency, total_minor, steps: [{date, price_minor}]}} (the cheapest plan, plan/)
- line.renew_link: {msisdn, number_loss_at, timezone, renew_url}: a renewal link the subscriber asked for (hotline)
- plan.renewal: {msisdn, offer_id, amount, date, timezone, renew_url?}: a renewal day of a saved keep-my-number plan
- line.grace / line.suspended: {msisdn, number_loss_at, timezone}; line.deactivated: {msisdn}
- payment.failed: {msisdn, amount, method, failure, renew_url?}
- payment.refunded: {msisdn, amount}; reminders.stopped: {msisdn}
- review.refunded / review.dismissed: {msisdn, amount}: a payment in the review queue was refunded, or dismissed
- transfer.pending: {msisdn, amount, creditor, iban, bic, reference, attempt_id}
- cashback.credited: {msisdn, amount}: a campaign's cashback credited as bonus after its cooling-off days
- autorenew.on: {msisdn, amount, method_label, mode, days_before}; autorenew.stopped: {msisdn}
- autorenew.failed / autorenew.action_required: {msisdn, amount, failure, action_url, timezone, number_loss_at,
  retry_at?} (no retry_at: no more automatic tries)
- esim.ready: {msisdn, esim_url}: an eSIM profile was given to the line; the link shows its code once (store/esim.py)
- answers to SMS commands (sms_command/): sms.balance {msisdn, amount, validity_ends_at, number_loss_at, timezone};
  sms.card_locked {msisdn, retry_hours, renew_url}; sms.no_line {msisdn, portal_url}; the others {msisdn}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from simkeep.core.clock import zone
from simkeep.core.money import Money
from simkeep.locale import formats, languages
from simkeep.locale.languages import LANGUAGES
from simkeep.notification import segments

# Answers to SMS commands (sms_command/): one SMS each, every text in one segment (160 GSM-7 characters, 70 UCS-2
# units in Chinese), but for the lockout in Chinese: its renewal link alone takes most of a UCS-2 segment.
SMS_COMMAND_TOPICS = ("sms.balance", "sms.help", "sms.language", "sms.card_invalid", "sms.card_locked",
                      "sms.card_cap", "sms.no_line", "sms.too_many")

TOPICS = ("otp.code", "topup.completed", "reminder", "line.grace", "line.suspended", "line.deactivated",
          "payment.failed", "payment.refunded", "review.refunded", "review.dismissed", "reminders.stopped",
          "transfer.pending", "cashback.credited", "autorenew.on", "autorenew.stopped", "autorenew.failed",
          "autorenew.action_required", "plan.renewal", "line.renew_link", "esim.ready", *SMS_COMMAND_TOPICS)

TEXTS: dict[str, dict[str, str]] = {
    "otp.code": {
        "en": "Your simkeep code is {code}. It is valid for {minutes}. Never share it.",
        "fr": "Votre code simkeep est {code}. Il est valable {minutes}. Ne le communiquez à personne.",
        "zh_CN": "您的simkeep验证码为{code}，{minutes}内有效。请勿告诉他人。",
    },
    "topup.completed": {
        "en": "Your top-up of {amount} on {msisdn} is done. Your line is valid until {validity_end}.",
        "fr": "Votre recharge de {amount} sur le {msisdn} est effectuée. Votre ligne est valable jusqu'au {validity_end}.",
        "zh_CN": "您的号码{msisdn}已成功充值{amount}，有效期至{validity_end}。",
    },
    "cashback.credited": {
        "en": "Cashback of {amount} has been added to {msisdn} as bonus credit. Thank you for recharging with us.",
        "fr": "Un cashback de {amount} a été ajouté en crédit bonus sur le {msisdn}. Merci pour votre recharge.",
        "zh_CN": "号码{msisdn}的{amount}返现已计入赠送余额。感谢您的充值。",
    },
    # days_before > 0; "reminder.today" replaces it on the last day.
    "reminder": {
        "en": "Your number {msisdn} will be lost for good at the end of {loss_date} ({countdown}) unless you recharge.",
        "fr": "Sans recharge, votre numéro {msisdn} sera définitivement perdu à la fin du {loss_date} ({countdown}).",
        "zh_CN": "如不充值，号码{msisdn}将在{loss_date}（{countdown}）结束后被永久回收。",
    },
    "line.renew_link": {
        "en": "To keep your number {msisdn}, recharge by {loss_date}: {renew_url}",
        "fr": "Pour garder votre numéro {msisdn}, rechargez au plus tard le {loss_date}\u00a0: {renew_url}",
        "zh_CN": "请在{loss_date}前充值以保留号码{msisdn}：{renew_url}",
    },
    "esim.ready": {
        "en": "Your eSIM for {msisdn} is ready. This link shows its QR code once (afterwards, sign in with your number to see it again); open it on another screen and scan the code with the phone: {esim_url}",
        "fr": "Votre eSIM pour le {msisdn} est disponible. Ce lien affiche son code QR une seule fois (ensuite, connectez-vous avec votre numéro pour le revoir)\u202f; ouvrez-le sur un autre écran et scannez le code avec le téléphone\u00a0: {esim_url}",
        "zh_CN": "号码{msisdn}的eSIM已就绪。以下链接仅显示一次二维码（之后请用您的号码登录查看），请在另一块屏幕上打开，并用手机扫描：{esim_url}",
    },
    "plan.renewal": {
        "en": "As planned, recharge {msisdn} today with {amount} to keep your number.",
        "fr": "Comme prévu, rechargez le {msisdn} aujourd'hui de {amount} pour garder votre numéro.",
        "zh_CN": "按您的保号计划，请今天为号码{msisdn}充值{amount}。",
    },
    "line.grace": {
        "en": "The validity of {msisdn} has ended: you can only receive calls. Recharge by {loss_date} to keep your number.",
        "fr": "La validité du {msisdn} est terminée\u00a0: vous ne pouvez plus que recevoir des appels. Rechargez au plus tard le {loss_date} pour garder votre numéro.",
        "zh_CN": "号码{msisdn}有效期已结束，目前仅可接听。请在{loss_date}（含）之前充值以保留号码。",
    },
    "line.suspended": {
        "en": "{msisdn} is suspended. Recharge by {loss_date} or the number will be lost.",
        "fr": "Le {msisdn} est suspendu. Rechargez au plus tard le {loss_date}, sinon le numéro sera perdu.",
        "zh_CN": "号码{msisdn}已双向停机。请在{loss_date}（含）之前充值，否则号码将被回收。",
    },
    "line.deactivated": {
        "en": "{msisdn} has been deactivated and can no longer be recharged.",
        "fr": "Le {msisdn} a été résilié\u00a0: aucune recharge n'est plus possible.",
        "zh_CN": "号码{msisdn}已销户，无法再充值。",
    },
    "payment.failed": {
        "en": "Your payment of {amount} by {method} for {msisdn} did not go through ({failure}). Nothing was charged and the line was not recharged.",
        "fr": "Votre paiement de {amount} par {method} pour le {msisdn} n'a pas abouti ({failure}). Rien n'a été débité et la ligne n'a pas été rechargée.",
        "zh_CN": "您为号码{msisdn}支付的{amount}（{method}）未成功：{failure}。未扣款，号码也未充值。",
    },
    "payment.refunded": {
        "en": "{amount} has been refunded for your top-up of {msisdn}. It reaches your account within a few days.",
        "fr": "{amount} vous ont été remboursés pour la recharge du {msisdn}. Le remboursement arrive sous quelques jours.",
        "zh_CN": "您为号码{msisdn}充值的{amount}已退款，将在几天内到账。",
    },
    "transfer.pending": {
        "en": "To recharge {msisdn} by bank transfer, send exactly {amount} to {creditor}, IBAN {iban}, BIC {bic}, with the reference {reference}. The line is recharged when the transfer arrives.",
        "fr": "Pour recharger le {msisdn} par virement, envoyez exactement {amount} à {creditor}, IBAN {iban}, BIC {bic}, avec la référence {reference}. La ligne est rechargée à l'arrivée du virement.",
        "zh_CN": "如需通过银行转账为号码{msisdn}充值，请向{creditor}转账{amount}（金额须完全一致），IBAN：{iban}，BIC：{bic}，参考号：{reference}（须原样填写）。款项到账后即为号码充值。",
    },
    # A payment the review queue settled, as the pay page promised ("our team will credit your line or refund you").
    "review.refunded": {
        "en": "We could not recharge {msisdn} with your payment of {amount}: it has been refunded and reaches your account within a few days.",
        "fr": "Nous n'avons pas pu recharger le {msisdn} avec votre paiement de {amount}\u00a0: il vous a été remboursé et arrive sous quelques jours.",
        "zh_CN": "您为号码{msisdn}支付的{amount}未能用于充值，已全额退款，将在几天内到账。",
    },
    "review.dismissed": {
        "en": "We have checked your payment of {amount} for {msisdn}: the line was not recharged with it. Any money taken for it is returned to you.",
        "fr": "Nous avons vérifié votre paiement de {amount} pour le {msisdn}\u00a0: la ligne n'a pas été rechargée. Tout montant prélevé vous est rendu.",
        "zh_CN": "我们已核查您为号码{msisdn}支付的{amount}：该笔付款未用于充值。如已扣款，款项将退还给您。",
    },
    "reminders.stopped": {
        "en": "You will no longer receive reminders for {msisdn}. Recharge in time to keep your number.",
        "fr": "Vous ne recevrez plus de rappels pour le {msisdn}. Pensez à recharger à temps pour garder votre numéro.",
        "zh_CN": "号码{msisdn}将不再收到提醒。请记得按时充值以保留号码。",
    },
    "autorenew.on": {
        "en": "Auto-renew is on for {msisdn}: {amount} {autorenew_when}. Reply STOP AUTO to turn it off.",
        "fr": "Le renouvellement automatique est activé pour le {msisdn}\u00a0: {amount} {autorenew_when}. Répondez STOP AUTO pour le désactiver.",
        "zh_CN": "号码{msisdn}已开通自动续费：{autorenew_when}自动支付{amount}。回复STOP AUTO可取消。",
    },
    "autorenew.stopped": {
        "en": "Auto-renew is off for {msisdn}. Recharge in time to keep your number.",
        "fr": "Le renouvellement automatique est désactivé pour le {msisdn}. Pensez à recharger à temps pour garder votre numéro.",
        "zh_CN": "号码{msisdn}已取消自动续费。请记得按时充值以保留号码。",
    },
    "autorenew.failed": {
        "en": "The automatic renewal of {amount} for {msisdn} did not go through ({failure}).",
        "fr": "Le renouvellement automatique de {amount} pour le {msisdn} n'a pas abouti ({failure}).",
        "zh_CN": "号码{msisdn}的自动续费{amount}未成功：{failure}。",
    },
    "autorenew.action_required": {
        "en": "Your bank asks you to confirm the automatic renewal of {amount} for {msisdn}.",
        "fr": "Votre banque demande de confirmer le renouvellement automatique de {amount} pour le {msisdn}.",
        "zh_CN": "您的银行要求确认号码{msisdn}的自动续费{amount}。",
    },
    "sms.balance": {
        "en": "{msisdn}: balance {amount}, valid until {validity_end}. Recharge by {loss_date} to keep your number.",
        "fr": "{msisdn}\u00a0: solde {amount}, valable jusqu'au {validity_end}. Rechargez avant la fin du {loss_date} pour garder votre numéro.",
        "zh_CN": "号码{msisdn}：余额{amount}，有效期至{validity_end}。请在{loss_date}（含）之前充值以保留号码。",
    },
    "sms.help": {
        "en": "simkeep: BALANCE for your balance and dates, RECHARGE and the card's code to renew, LANG FR, EN or ZH for the language, STOP to end reminders.",
        "fr": "simkeep\u00a0: SOLDE pour votre solde et vos dates, RECHARGE et le code de la carte pour recharger, LANGUE FR, EN ou ZH, STOP contre les rappels.",
        "zh_CN": "simkeep：回复“余额”查询余额及有效期，“充值”加卡密续费，“语言FR”“语言EN”或“语言ZH”切换语言，“退订”停止提醒。",
    },
    "sms.language": {
        "en": "Done: simkeep will write to you in English from now on.",
        "fr": "C'est noté\u00a0: simkeep vous écrira désormais dans cette langue.",
        "zh_CN": "好的，simkeep今后将用中文给您发送消息。",
    },
    "sms.card_invalid": {
        "en": "This recharge card cannot be used. Check the code and send RECHARGE and the code again; if it still fails, ask the seller.",
        "fr": "Cette carte de recharge n'est pas valable. Vérifiez le code et renvoyez RECHARGE et le code\u202f; en cas de nouvel échec, voyez le vendeur.",
        "zh_CN": "该充值卡无法使用。请核对卡密后重新发送“充值”加卡密；如仍失败，请联系售卡商户。",
    },
    "sms.card_locked": {
        "en": "Too many wrong card codes: recharging by card is blocked for {retry_in}. Other ways to recharge: {renew_url}",
        "fr": "Trop de codes erronés\u00a0: la recharge par carte est bloquée pendant {retry_in}. Autres moyens de recharger\u00a0: {renew_url}",
        "zh_CN": "卡密错误次数过多，充值卡充值已暂停{retry_in}。其他充值方式：{renew_url}",
    },
    "sms.card_cap": {
        "en": "Your line is already valid for the longest time allowed: keep the card and use it later.",
        "fr": "Votre ligne est déjà valable pour la durée maximale autorisée\u00a0: gardez la carte pour plus tard.",
        "zh_CN": "您的号码有效期已达上限，请保留此卡稍后使用。",
    },
    "sms.no_line": {
        "en": "This number is not a line kept by simkeep. To check or renew another number: {portal_url}",
        "fr": "Ce numéro n'est pas une ligne suivie par simkeep. Pour consulter ou recharger un autre numéro\u00a0: {portal_url}",
        "zh_CN": "此号码不是simkeep管理的号码。查询或续费其他号码：{portal_url}",
    },
    "sms.too_many": {
        "en": "Too many messages from your number: simkeep will answer again in a few minutes.",
        "fr": "Trop de messages depuis votre numéro\u00a0: simkeep répondra de nouveau dans quelques minutes.",
        "zh_CN": "您发送的消息过多，simkeep将在几分钟后再回复。",
    },
}

# Sentences added to a text when the payload has what they need.
PIECES: dict[str, dict[str, str]] = {
    "receipt": {"en": " Receipt: {receipt_url}", "fr": " Justificatif\u00a0: {receipt_url}", "zh_CN": "收据：{receipt_url}"},
    "bonus": {"en": " Bonus credit: {bonus}.", "fr": " Bonus\u00a0: {bonus}.", "zh_CN": "赠送{bonus}。"},
    "store": {"en": " Paid at {store}.", "fr": " Payée en boutique\u00a0: {store}.", "zh_CN": "于{store}办理。"},
    "reminder.today": {
        "en": "Today, {loss_date}, is the last day to keep your number {msisdn}: unless you recharge, it will be lost for good at midnight.",
        "fr": "Aujourd'hui, {loss_date}, est le dernier jour pour garder votre numéro {msisdn}\u00a0: sans recharge, il sera perdu à minuit.",
        "zh_CN": "今天（{loss_date}）是保留号码{msisdn}的最后一天：如不充值，号码将在今晚24点被永久回收。",
    },
    "reminder.grace": {"en": " For now the line can only receive calls.",
                       "fr": " Pour l'instant, appels entrants uniquement.",
                       "zh_CN": "目前仅可接听。"},
    "reminder.suspended": {"en": " The line is suspended.", "fr": " La ligne est suspendue.",
                           "zh_CN": "目前已双向停机。"},
    "reminder.offer": {"en": " The smallest recharge that keeps it: {offer_price} for {offer_validity}.",
                       "fr": " Recharge minimale pour le garder\u00a0: {offer_price} pour {offer_validity}.",
                       "zh_CN": "保号最低充值{offer_price}（{offer_validity}）。"},
    "recharge": {"en": " Recharge: {renew_url}", "fr": " Recharger\u00a0: {renew_url}", "zh_CN": "充值：{renew_url}"},
    "retry": {"en": " Try again: {renew_url}", "fr": " Nouvel essai\u00a0: {renew_url}", "zh_CN": "重新充值：{renew_url}"},
    "autorenew.before_end": {"en": "{days_before} before the validity ends", "fr": "{days_before} avant la fin de validité",
                             "zh_CN": "有效期结束前{days_before}"},
    "autorenew.lowest_cost": {"en": "just before the number would be lost", "fr": "juste avant la perte du numéro",
                              "zh_CN": "号码回收前"},
    "autorenew.retry": {"en": " We will try again on {retry_date}.", "fr": " Nouvel essai le {retry_date}.",
                        "zh_CN": "我们将于{retry_date}再次尝试。"},
    "autorenew.last": {"en": " No more automatic tries: recharge by {loss_date} to keep your number.",
                       "fr": " Plus d'essai automatique\u00a0: rechargez au plus tard le {loss_date} pour garder votre numéro.",
                       "zh_CN": "不再自动尝试，请在{loss_date}（含）之前充值以保留号码。"},
    "autorenew.action": {"en": " Pay or confirm: {action_url}", "fr": " Payer ou confirmer\u00a0: {action_url}",
                         "zh_CN": "付款或确认：{action_url}"},
    # How long until the last day.
    "tomorrow": {"en": "tomorrow", "fr": "demain", "zh_CN": "明天"},
    "in": {"en": "in {days}", "fr": "dans {days}", "zh_CN": "{days}后"},
    # The keep-my-number plan (plan/): "€10.00 today, €10.00 on 3 March 2027: €20.00 in total."
    "reminder.plan": {"en": " The cheapest way to keep it until {plan_until}: {plan_text}",
                      "fr": " Le moins cher pour le garder jusqu'au {plan_until}\u00a0: {plan_text}",
                      "zh_CN": "保号至{plan_until}最省钱的方式：{plan_text}"},
    "plan.today": {"en": "{amount} today", "fr": "{amount} aujourd'hui", "zh_CN": "今天{amount}"},
    "plan.on": {"en": "{amount} on {date}", "fr": "{amount} le {date}", "zh_CN": "{date}{amount}"},
    "plan.more": {"en": "{first}, then {more}", "fr": "{first}, puis {more}", "zh_CN": "{first}，之后{more}"},
    "plan.sep": {"en": ", ", "fr": ", ", "zh_CN": "，"},
    "plan.total": {"en": "{steps}: {total} in total.", "fr": "{steps}\u00a0: {total} au total.", "zh_CN": "{steps}，共计{total}。"},
    "plan.nothing": {"en": "nothing to pay, it is kept until then.", "fr": "rien à payer, il est conservé jusque-là.",
                     "zh_CN": "无需充值，号码可保留至该日。"},
}

SUBJECTS: dict[str, dict[str, str]] = {
    "otp.code": {"en": "Your simkeep sign-in code", "fr": "Votre code de connexion simkeep",
                 "zh_CN": "您的simkeep登录验证码"},
    "topup.completed": {"en": "Top-up of {amount} confirmed for {msisdn}", "fr": "Recharge de {amount} confirmée pour le {msisdn}",
                        "zh_CN": "号码{msisdn}已成功充值{amount}"},
    "reminder": {"en": "Recharge by {loss_date} to keep your number {msisdn}",
                 "fr": "Rechargez au plus tard le {loss_date} pour garder votre numéro {msisdn}",
                 "zh_CN": "请在{loss_date}（含）之前充值以保留号码{msisdn}"},
    "reminder.today": {"en": "Last day to keep your number {msisdn}", "fr": "Dernier jour pour garder votre numéro {msisdn}",
                       "zh_CN": "今天是保留号码{msisdn}的最后一天"},
    "line.grace": {"en": "{msisdn} can now only receive calls", "fr": "Le {msisdn} ne peut plus que recevoir des appels",
                   "zh_CN": "号码{msisdn}目前仅可接听"},
    "line.suspended": {"en": "{msisdn} is suspended", "fr": "Le {msisdn} est suspendu", "zh_CN": "号码{msisdn}已停机"},
    "line.deactivated": {"en": "{msisdn} has been deactivated", "fr": "Le {msisdn} a été résilié",
                         "zh_CN": "号码{msisdn}已销户"},
    "payment.failed": {"en": "Your payment for {msisdn} did not go through", "fr": "Votre paiement pour le {msisdn} n'a pas abouti",
                       "zh_CN": "号码{msisdn}的付款未成功"},
    "payment.refunded": {"en": "Refund of {amount} for {msisdn}", "fr": "Remboursement de {amount} pour le {msisdn}",
                         "zh_CN": "号码{msisdn}已退款{amount}"},
    "review.refunded": {"en": "Refund of {amount} for {msisdn}", "fr": "Remboursement de {amount} pour le {msisdn}",
                        "zh_CN": "号码{msisdn}的{amount}已退款"},
    "review.dismissed": {"en": "Your payment of {amount} for {msisdn} has been checked",
                         "fr": "Votre paiement de {amount} pour le {msisdn} a été vérifié",
                         "zh_CN": "号码{msisdn}的{amount}付款已核查"},
    "reminders.stopped": {"en": "No more reminders for {msisdn}", "fr": "Plus de rappels pour le {msisdn}",
                          "zh_CN": "号码{msisdn}已停止提醒"},
    "cashback.credited": {"en": "Cashback of {amount} added to {msisdn}", "fr": "Cashback de {amount} ajouté au {msisdn}",
                          "zh_CN": "号码{msisdn}已获得{amount}返现"},
    "autorenew.on": {"en": "Auto-renew is on for {msisdn}", "fr": "Renouvellement automatique activé pour le {msisdn}",
                     "zh_CN": "号码{msisdn}已开通自动续费"},
    "autorenew.stopped": {"en": "Auto-renew is off for {msisdn}",
                          "fr": "Renouvellement automatique désactivé pour le {msisdn}",
                          "zh_CN": "号码{msisdn}已取消自动续费"},
    "autorenew.failed": {"en": "The automatic renewal of {msisdn} did not go through",
                         "fr": "Le renouvellement automatique du {msisdn} n'a pas abouti",
                         "zh_CN": "号码{msisdn}自动续费未成功"},
    "autorenew.action_required": {"en": "Confirm the automatic renewal of {msisdn}",
                                  "fr": "Confirmez le renouvellement automatique du {msisdn}",
                                  "zh_CN": "请确认号码{msisdn}的自动续费"},
    "esim.ready": {"en": "Your eSIM for {msisdn} is ready", "fr": "Votre eSIM pour le {msisdn} est disponible",
                   "zh_CN": "号码{msisdn}的eSIM已就绪"},
    "line.renew_link": {"en": "Recharge link for {msisdn}", "fr": "Lien de recharge pour le {msisdn}",
                        "zh_CN": "号码{msisdn}的充值链接"},
    "plan.renewal": {"en": "Recharge {msisdn} today, as planned", "fr": "Rechargez le {msisdn} aujourd'hui, comme prévu",
                     "zh_CN": "按计划今天为号码{msisdn}充值"},
    "transfer.pending": {"en": "Bank transfer details to recharge {msisdn}",
                         "fr": "Coordonnées du virement pour recharger le {msisdn}",
                         "zh_CN": "为号码{msisdn}充值的银行转账信息"},
    "sms.balance": {"en": "Balance of {msisdn}", "fr": "Solde du {msisdn}", "zh_CN": "号码{msisdn}的余额"},
    "sms.help": {"en": "simkeep SMS commands", "fr": "Commandes SMS simkeep", "zh_CN": "simkeep短信指令"},
    "sms.language": {"en": "Language changed", "fr": "Langue modifiée", "zh_CN": "语言已更改"},
    "sms.card_invalid": {"en": "Recharge card not valid", "fr": "Carte de recharge non valable", "zh_CN": "充值卡无法使用"},
    "sms.card_locked": {"en": "Recharge by card blocked for {msisdn}", "fr": "Recharge par carte bloquée pour le {msisdn}",
                        "zh_CN": "号码{msisdn}的充值卡充值已暂停"},
    "sms.card_cap": {"en": "Keep your recharge card for later", "fr": "Gardez votre carte de recharge pour plus tard",
                     "zh_CN": "请保留充值卡稍后使用"},
    "sms.no_line": {"en": "Not a simkeep line", "fr": "Ligne inconnue de simkeep", "zh_CN": "非simkeep号码"},
    "sms.too_many": {"en": "Too many messages", "fr": "Trop de messages", "zh_CN": "消息过多"},
}

# Counted words by CLDR plural category (Babel's rules: French "one" covers 0 and 1, Chinese has only "other").
COUNTS: dict[str, dict[str, dict[str, str]]] = {
    "day": {"en": {"one": "{n} day", "other": "{n} days"}, "fr": {"one": "{n} jour", "other": "{n} jours"},
            "zh_CN": {"other": "{n}天"}},
    "minute": {"en": {"one": "{n} minute", "other": "{n} minutes"}, "fr": {"one": "{n} minute", "other": "{n} minutes"},
               "zh_CN": {"other": "{n}分钟"}},
    "hour": {"en": {"one": "{n} hour", "other": "{n} hours"}, "fr": {"one": "{n} heure", "other": "{n} heures"},
             "zh_CN": {"other": "{n}小时"}},
    "renewal": {"en": {"one": "{n} renewal", "other": "{n} renewals"}, "fr": {"one": "{n} recharge", "other": "{n} recharges"},
                "zh_CN": {"other": "{n}次充值"}},
}

METHODS: dict[str, dict[str, str]] = {
    "card": {"en": "bank card", "fr": "carte bancaire", "zh_CN": "银行卡"},
    "paypal": {"en": "PayPal", "fr": "PayPal", "zh_CN": "PayPal"},
    "bank_transfer": {"en": "bank transfer", "fr": "virement", "zh_CN": "银行转账"},
    "wechat_pay": {"en": "WeChat Pay", "fr": "WeChat Pay", "zh_CN": "微信支付"},
    "alipay": {"en": "Alipay", "fr": "Alipay", "zh_CN": "支付宝"},
    "": {"en": "the chosen method", "fr": "le moyen choisi", "zh_CN": "所选方式"},
}

# Provider failure codes (payment_attempts.failure_reason) as a payer reads them.
FAILURES: dict[str, dict[str, str]] = {
    "card_declined": {"en": "card declined", "fr": "carte refusée", "zh_CN": "银行卡被拒"},
    "insufficient_funds": {"en": "insufficient funds", "fr": "provision insuffisante", "zh_CN": "余额不足"},
    "expired_card": {"en": "card expired", "fr": "carte expirée", "zh_CN": "银行卡已过期"},
    "incorrect_cvc": {"en": "wrong security code", "fr": "code de sécurité erroné", "zh_CN": "安全码错误"},
    "authentication_failed": {"en": "card authentication failed", "fr": "authentification de la carte refusée",
                              "zh_CN": "银行卡验证未通过"},
    "canceled": {"en": "payment cancelled", "fr": "paiement annulé", "zh_CN": "付款已取消"},
    "expired": {"en": "not completed in time", "fr": "non finalisé à temps", "zh_CN": "未在规定时间内完成"},
    "processing_error": {"en": "error at the payment service", "fr": "erreur du service de paiement",
                         "zh_CN": "支付服务出错"},
    "": {"en": "refused by the payment service", "fr": "refusé par le service de paiement", "zh_CN": "支付服务拒绝了付款"},
}
FAILURE_ALIASES = {"cancelled": "canceled", "order_voided": "canceled", "approval_expired": "expired",
                   "instrument_declined": "card_declined", "payer_action_required": "authentication_failed"}


class _Fields(dict):
    """A missing field renders as nothing rather than failing the whole delivery batch."""

    def __missing__(self, key: str) -> str:
        return ""


def render(topic: str, language: str, payload: dict, *, now: datetime | None = None) -> str:
    """The message text. `now` (when given) counts the days left from the send time rather than the offset."""
    fields = _fields(payload, language, now)
    if topic == "reminder":
        return _reminder(language, payload, fields)
    text = _pick(TEXTS, topic, language).format_map(fields)
    if topic == "topup.completed" and fields["bonus"]:
        text += _pick(PIECES, "bonus", language).format_map(fields)
    if topic == "topup.completed" and payload.get("store"):
        text += _pick(PIECES, "store", language).format_map(fields)
    if topic == "plan.renewal" and payload.get("renew_url"):
        text += _pick(PIECES, "recharge", language).format_map(fields)
    if topic == "payment.failed" and payload.get("renew_url"):
        text += _pick(PIECES, "retry", language).format_map(fields)
    if topic in ("autorenew.failed", "autorenew.action_required"):
        text += _pick(PIECES, "autorenew.retry" if payload.get("retry_at") else "autorenew.last",
                      language).format_map(fields)
        if payload.get("action_url"):
            text += _pick(PIECES, "autorenew.action", language).format_map(fields)
    if payload.get("receipt_url"):
        text += _pick(PIECES, "receipt", language).format_map(fields)
    return text


def subject(topic: str, language: str, payload: dict, *, now: datetime | None = None) -> str:
    """The e-mail subject of a message."""
    fields = _fields(payload, language, now)
    if topic == "reminder" and fields["days_left"] == 0:
        topic = "reminder.today"
    return _pick(SUBJECTS, topic, language, default="simkeep").format_map(fields)


def sms(topic: str, language: str, payload: dict, *, now: datetime | None = None) -> segments.SmsText:
    """The text as it travels by SMS: GSM-7 folded when possible, with its encoding and segment count."""
    return segments.analyse(render(topic, language, payload, now=now))


def _reminder(language: str, payload: dict, fields: _Fields) -> str:
    text = _pick(PIECES if fields["days_left"] == 0 else TEXTS,
                 "reminder.today" if fields["days_left"] == 0 else "reminder", language).format_map(fields)
    if payload.get("state") in ("grace", "suspended"):
        text += _pick(PIECES, f"reminder.{payload['state']}", language)
    if payload.get("keep_plan"):  # names the cheapest way for a year instead of the smallest recharge
        text += _pick(PIECES, "reminder.plan", language).format_map(fields)
    elif fields["offer_price"]:
        text += _pick(PIECES, "reminder.offer", language).format_map(fields)
    if payload.get("renew_url"):
        text += _pick(PIECES, "recharge", language).format_map(fields)
    return text


def plan_sentence(plan: dict, language: str, *, today: date | None = None, most: int | None = None) -> str:
    """A keep-my-number plan in plain words: "€10.00 today, €10.00 on 3 March 2027, €30.00 on 1 June 2027: €50.00
    in total." `plan`: {currency, total_minor, steps: [{date, price_minor}]}; `most` steps are named, the rest
    counted ("... and 7 more renewals")."""
    reader = languages.for_number(language, plan.get("msisdn"))
    language, locale = reader.language, reader.locale
    currency = plan["currency"]
    steps = plan["steps"]
    if not steps:
        return _pick(PIECES, "plan.nothing", language)
    named = []
    for step in steps[:most] if most else steps:
        on = date.fromisoformat(step["date"])
        amount = formats.money(Money(int(step["price_minor"]), currency), locale)
        named.append(_pick(PIECES, "plan.today", language).format(amount=amount) if on == today else
                     _pick(PIECES, "plan.on", language).format(amount=amount, date=formats.day(on, locale)))
    text = _pick(PIECES, "plan.sep", language).join(named)
    if most and len(steps) > most:
        text = _pick(PIECES, "plan.more", language).format(first=text,
                                                             more=count("renewal", len(steps) - most, language))
    return _pick(PIECES, "plan.total", language).format(
        steps=text, total=formats.money(Money(int(plan["total_minor"]), currency), locale))


def _pick(table: dict[str, dict[str, str]], key: str, language: str, default: str | None = None) -> str:
    texts = table.get(key, {})
    return texts.get(language) or texts.get("en") or (default if default is not None else key)


def count(unit: str, n: int, language: str) -> str:
    """"3 days", "1 jour", "3天": the word agrees with the number under the language's plural rule."""
    language = language if language in LANGUAGES else languages.DEFAULT
    forms = COUNTS[unit][language]
    return (forms.get(formats.plural(n, languages.BASE_LOCALE[language])) or forms["other"]).format(n=n)


def _fields(payload: dict, language: str, now: datetime | None) -> _Fields:
    reader = languages.for_number(language, payload.get("msisdn"))
    language, locale = reader.language, reader.locale
    fields = _Fields(payload)
    tz = payload.get("timezone") or "UTC"
    for name in ("amount", "bonus"):
        money = _money(payload.get(name))
        fields[name] = formats.money(money, locale) if money and (name == "amount" or money.minor) else ""
    if payload.get("validity_ends_at"):
        fields["validity_end"] = formats.last_day(datetime.fromisoformat(payload["validity_ends_at"]), tz, locale)
    if payload.get("number_loss_at"):
        last = formats.last_date(datetime.fromisoformat(payload["number_loss_at"]), tz)
        fields["loss_date"] = formats.day(last, locale)
        days = int(payload.get("days_before") or 0)
        if now is not None:
            days = (last - now.astimezone(zone(tz)).date()).days
        fields["days_left"] = max(days, 0)
        fields["countdown"] = (_pick(PIECES, "tomorrow", language) if fields["days_left"] == 1 else
                               _pick(PIECES, "in", language).format(days=count("day", fields["days_left"], language)))
    else:
        fields["days_left"] = None
    if isinstance(payload.get("retry_hours"), int):
        fields["retry_in"] = count("hour", payload["retry_hours"], language)
    if isinstance(payload.get("minutes"), int):
        fields["minutes"] = count("minute", payload["minutes"], language)
    if payload.get("keep_plan"):
        fields["plan_until"] = formats.day(date.fromisoformat(payload["keep_plan"]["until"]), locale)
        made_on = payload["keep_plan"].get("today")
        fields["plan_text"] = plan_sentence({**payload["keep_plan"], "msisdn": payload.get("msisdn")}, language,
                                            most=1, today=date.fromisoformat(made_on) if made_on else None)
    offer = payload.get("cheapest_offer") or {}
    offer_price = _money(offer.get("amount"))
    fields["offer_price"] = formats.money(offer_price, locale) if offer_price else ""
    if offer.get("validity_days"):
        fields["offer_validity"] = count("day", int(offer["validity_days"]), language)
    for name in ("iban", "reference"):  # read and typed in groups of four, as banks print them
        if payload.get(name):
            fields[name] = " ".join(payload[name][i:i + 4] for i in range(0, len(payload[name]), 4))
    if payload.get("retry_at"):
        fields["retry_date"] = formats.day(formats.last_date(datetime.fromisoformat(payload["retry_at"]), tz), locale)
    if payload.get("mode") in ("before_end", "lowest_cost"):
        if isinstance(payload.get("days_before"), int):
            fields["days_before"] = count("day", payload["days_before"], language)
        fields["autorenew_when"] = _pick(PIECES, f"autorenew.{payload['mode']}", language).format_map(fields)
    if "method" in payload or "failure" in payload:
        fields["method"] = _pick(METHODS, payload.get("method") or "", language, default=str(payload.get("method")))
        failure = str(payload.get("failure") or "").lower()
        failure = FAILURE_ALIASES.get(failure, failure)
        fields["failure"] = _pick(FAILURES, failure if failure in FAILURES else "", language)
    return fields


def _money(value: dict | None) -> Money | None:
    if not value:
        return None
    return Money(int(value["amount_minor"]), value["currency"])


# -- previews for the back office ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Preview:
    topic: str
    variant: str  # what the sample shows, in English for staff
    language: str
    subject: str
    sms: segments.SmsText


def samples(base_url: str) -> list[tuple[str, str, dict]]:
    """Realistic payloads for every topic (and the variants a topic's wording depends on)."""
    paris = {"msisdn": "+33612345678", "timezone": "Europe/Paris"}
    renew = f"{base_url}/r/33612345678.g49.Jq3kX9vR2mWb"  # a signed renewal link (line/links.py), as sent
    five = {"id": "fr-orange-mobicarte-5", "amount": {"amount_minor": 500, "currency": "EUR"}, "validity_days": 7}
    loss = {**paris, "number_loss_at": "2027-03-12T23:00:00+00:00", "renew_url": renew}
    autorenew = f"{base_url}/auto-renew/Dq3kX9vR2mWbT7yHn4LpZs.Jq3kX9vR2mWbT7yH"  # a signed one-tap link
    return [
        ("otp.code", "sign-in code", {"code": "482913", "minutes": 5}),
        ("topup.completed", "with receipt link", {
            **paris, "amount": {"amount_minor": 1000, "currency": "EUR"}, "bonus": {"amount_minor": 0, "currency": "EUR"},
            "validity_ends_at": "2027-04-14T22:00:00+00:00",
            "receipt_url": f"{base_url}/receipts/0f6d5c1e9a8b4c7d8e2f3a4b5c6d7e8f.Jq3kX9vR2mWbT7yHn4LpZs1c8dE"}),
        ("topup.completed", "at a store's counter", {
            **paris, "amount": {"amount_minor": 1000, "currency": "EUR"}, "bonus": {"amount_minor": 0, "currency": "EUR"},
            "validity_ends_at": "2027-04-14T22:00:00+00:00", "store": "Tabac de Belleville",
            "receipt_url": f"{base_url}/receipts/0f6d5c1e9a8b4c7d8e2f3a4b5c6d7e8f.Jq3kX9vR2mWbT7yHn4LpZs1c8dE"}),
        ("topup.completed", "with bonus credit", {
            **paris, "amount": {"amount_minor": 2500, "currency": "EUR"}, "bonus": {"amount_minor": 500, "currency": "EUR"},
            "validity_ends_at": "2027-05-14T22:00:00+00:00"}),
        ("reminder", "30 days before, line active", {**loss, "days_before": 30, "state": "active", "cheapest_offer": five}),
        ("reminder", "3 days before, grace", {**loss, "days_before": 3, "state": "grace", "cheapest_offer": five}),
        ("reminder", "1 day before, suspended", {**loss, "days_before": 1, "state": "suspended", "cheapest_offer": five}),
        ("reminder", "last day, suspended", {**loss, "days_before": 0, "state": "suspended", "cheapest_offer": five}),
        ("reminder", "7 days before, no offer on sale", {**loss, "days_before": 7, "state": "grace", "cheapest_offer": None}),
        ("reminder", "Hong Kong number, 7 days before", {
            "msisdn": "+85251234567", "timezone": "Asia/Hong_Kong", "number_loss_at": "2027-03-12T16:00:00+00:00",
            "days_before": 7, "state": "suspended", "renew_url": f"{base_url}/r/85251234567.g49.Tx8fQ2nVw0Lk",
            "cheapest_offer": {"id": "hk-clubsim-6", "amount": {"amount_minor": 600, "currency": "HKD"},
                               "validity_days": 365}}),
        ("line.grace", "validity ended", {**paris, "number_loss_at": "2027-03-12T23:00:00+00:00"}),
        ("line.suspended", "both directions barred", {**paris, "number_loss_at": "2027-03-12T23:00:00+00:00"}),
        ("line.deactivated", "number lost", {"msisdn": "+33612345678"}),
        ("payment.failed", "card declined", {**paris, "amount": {"amount_minor": 1000, "currency": "EUR"},
                                             "method": "card", "failure": "card_declined"}),
        ("payment.refunded", "refund", {**paris, "amount": {"amount_minor": 1000, "currency": "EUR"}}),
        ("review.refunded", "refunded from the review queue", {**paris, "amount": {"amount_minor": 1000, "currency": "EUR"}}),
        ("review.dismissed", "dismissed from the review queue", {**paris, "amount": {"amount_minor": 1000, "currency": "EUR"}}),
        ("reminders.stopped", "after STOP", {"msisdn": "+33612345678"}),
        ("reminder", "30 days before, with the cheapest plan for a year", {
            **loss, "days_before": 30, "state": "active", "cheapest_offer": five, "keep_plan": {
                "until": "2028-02-11", "today": "2027-06-10", "currency": "EUR", "total_minor": 1500,
                "steps": [{"date": "2027-06-10", "price_minor": 500}, {"date": "2027-12-07", "price_minor": 500},
                          {"date": "2028-01-20", "price_minor": 500}]}}),
        ("reminder", "7 days before, no renewal needed for the year", {
            **loss, "days_before": 7, "state": "active", "cheapest_offer": five, "keep_plan": {
                "until": "2027-03-10", "currency": "EUR", "total_minor": 0, "steps": []}}),
        ("reminder", "3 days before, the plan renews later", {
            **loss, "days_before": 3, "state": "active", "cheapest_offer": five, "keep_plan": {
                "until": "2028-03-06", "today": "2027-03-06", "currency": "EUR", "total_minor": 1000,
                "steps": [{"date": "2027-03-12", "price_minor": 500}, {"date": "2027-09-20", "price_minor": 500}]}}),
        ("line.renew_link", "asked for on the hotline", {**loss}),
        ("esim.ready", "an eSIM given at the counter", {
            "msisdn": "+33612345678", "esim_url": f"{base_url}/esim/WyI0ZjFjIiwiOWIyZCJd.Z0x1aA.Jq3kX9vR2mWbT7yHn4LpZs"}),
        ("plan.renewal", "a renewal day of a saved plan", {
            **paris, "amount": {"amount_minor": 500, "currency": "EUR"}, "renew_url": renew}),
        ("transfer.pending", "bank transfer started", {
            **paris, "amount": {"amount_minor": 1000, "currency": "EUR"}, "creditor": "Simkeep Demo SAS",
            "iban": "FR7630006000011234567890189", "bic": "AGRIFRPP", "reference": "RF18539007547034"}),
        ("cashback.credited", "after the cooling-off days", {**paris, "amount": {"amount_minor": 250, "currency": "EUR"}}),
        ("autorenew.on", "3 days before the validity ends", {
            **paris, "amount": {"amount_minor": 1000, "currency": "EUR"}, "method_label": "Visa •••• 4242",
            "mode": "before_end", "days_before": 3}),
        ("autorenew.on", "just before the number-loss date", {
            **paris, "amount": {"amount_minor": 500, "currency": "EUR"}, "method_label": "Visa •••• 4242",
            "mode": "lowest_cost", "days_before": 3}),
        ("autorenew.stopped", "after STOP AUTO or the off link", {"msisdn": "+33612345678"}),
        ("autorenew.failed", "card declined, retried", {
            **paris, "amount": {"amount_minor": 1000, "currency": "EUR"}, "failure": "card_declined",
            "action_url": autorenew, "number_loss_at": "2027-03-12T23:00:00+00:00",
            "retry_at": "2027-03-02T09:00:00+00:00"}),
        ("autorenew.failed", "card declined, last try", {
            **paris, "amount": {"amount_minor": 1000, "currency": "EUR"}, "failure": "card_declined",
            "action_url": autorenew, "number_loss_at": "2027-03-12T23:00:00+00:00"}),
        ("autorenew.action_required", "bank asks for authentication", {
            **paris, "amount": {"amount_minor": 1000, "currency": "EUR"}, "failure": "",
            "action_url": autorenew, "number_loss_at": "2027-03-12T23:00:00+00:00",
            "retry_at": "2027-03-02T09:00:00+00:00"}),
        ("sms.balance", "SOLDE", {**paris, "amount": {"amount_minor": 1250, "currency": "EUR"},
                                  "validity_ends_at": "2027-03-12T23:00:00+00:00",
                                  "number_loss_at": "2027-06-10T22:00:00+00:00"}),
        ("sms.help", "AIDE, or a text that is no command", {"msisdn": "+33612345678"}),
        ("sms.language", "LANG FR", {"msisdn": "+33612345678"}),
        ("sms.card_invalid", "RECHARGE with a PIN that does not work", {"msisdn": "+33612345678"}),
        ("sms.card_locked", "RECHARGE after five wrong PINs", {
            "msisdn": "+33612345678", "retry_hours": 23, "renew_url": renew}),
        ("sms.card_cap", "RECHARGE past the operator's validity cap", {"msisdn": "+33612345678"}),
        ("sms.no_line", "a command from a number simkeep does not keep", {
            "msisdn": "+33698765432", "portal_url": base_url}),
        ("sms.too_many", "a flood of commands", {"msisdn": "+33612345678"}),
    ]


def previews(base_url: str) -> list[Preview]:
    """Every template in every language, rendered with the samples."""
    return [Preview(topic=topic, variant=variant, language=language, subject=subject(topic, language, payload),
                    sms=sms(topic, language, payload))
            for topic, variant, payload in samples(base_url) for language in LANGUAGES]
