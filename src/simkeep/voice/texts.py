"""Every sentence the hotline says, per prompt name and language (zh_CN, fr, en): one recorded file each
(voice/prompts/<language>/<name>.wav, made by scripts/voice_prompts.py). Numbers, amounts and dates are not here:
they come between these sentences as speech.py's pieces ("Votre solde est de" + "dix euros").

Sentences are short, so a caller pressing a key while one plays (barge-in) loses little, and a sentence that ends
where a date or amount follows never repeats the article the piece brings: French dates are "le douze mars", so a
sentence before one ends with "après", "a expiré", "dernier jour :" and never with "au". An empty text is a piece
that language does not need (the Chinese sentence puts a word after the date: 三月十二日之后); it is never played.

Names never clash with speech.PIECES (tests/voice/test_texts.py checks), so one folder holds both.
"""

from __future__ import annotations

from simkeep.voice.flow import Prompt
from simkeep.voice.speech import EN, FR, ZH


def _t(zh: str, fr: str, en: str) -> dict[str, str]:
    return {ZH: zh, FR: fr, EN: en}


TEXTS: dict[str, dict[str, str]] = {
    # The language menu: each option said in its own language (a first call, or 9 in the menu).
    "choose_zh": _t("中文服务请按1。", "Pour le chinois, tapez 1.", "For Chinese, press 1."),
    "choose_fr": _t("法语服务请按2。", "Pour le français, tapez 2.", "For French, press 2."),
    "choose_en": _t("英语服务请按3。", "Pour l'anglais, tapez 3.", "For English, press 3."),
    "welcome": _t("欢迎致电simkeep。", "Bienvenue chez simkeep.", "Welcome to simkeep."),
    "language_saved": _t("好的，我们以后用中文为您服务。", "C'est noté, nous vous parlerons en français.",
                         "Done, we will speak English with you."),
    # The main menu.
    "menu_balance": _t("查询余额和有效期，请按1。", "Pour connaître votre solde et vos dates, tapez 1.",
                       "For your balance and dates, press 1."),
    "menu_card": _t("用充值卡充值，请按2。", "Pour recharger avec un ticket de recharge, tapez 2.",
                    "To recharge with a recharge card, press 2."),
    "menu_link": _t("通过短信接收充值链接，请按3。", "Pour recevoir un lien de recharge par SMS, tapez 3.",
                    "To get a recharge link by text message, press 3."),
    "menu_repeat": _t("重听，请按8。", "Pour réécouter, tapez 8.", "To hear this again, press 8."),
    "menu_agent": _t("人工服务，请按0。", "Pour parler à un conseiller, tapez 0.", "To speak to an agent, press 0."),
    "menu_language": _t("更改语言，请按9。", "Pour changer de langue, tapez 9.", "To change the language, press 9."),
    # The line's status: sentence, then an amount or a date, then (Chinese) the end of the sentence.
    "balance_is": _t("您的余额为", "Votre solde est de", "Your balance is"),
    "valid_until": _t("您的号码有效期至", "Votre ligne reste valable, dernier jour\u00a0:", "Your line is valid until"),
    "validity_ended": _t("您的号码有效期已于", "Votre ligne a expiré", "Your line's validity ended on"),
    "validity_ended_end": _t("到期。", "", ""),
    "number_kept_until": _t("如不充值，您的号码将在", "Sans recharge, votre numéro sera perdu après",
                            "Without a recharge, your number will be lost after"),
    "number_kept_until_end": _t("之后被回收。", "", ""),
    "state_grace": _t("您的号码目前只能接听电话。", "Votre ligne ne peut plus que recevoir des appels.",
                      "For now your line can only receive calls."),
    "state_suspended": _t("您的号码已停机。", "Votre ligne est suspendue.", "Your line is suspended."),
    "state_deactivated": _t("您的号码已被注销。", "Votre ligne a été résiliée.", "Your line has been deactivated."),
    # Renewing with a card.
    "pin_enter": _t("请输入充值卡上的15位密码，然后按井号键。",
                    "Tapez les 15 chiffres du code de votre ticket de recharge, puis la touche dièse.",
                    "Type the 15 digits of your recharge card's PIN, then the hash key."),
    "pin_back": _t("返回，请按星号键和井号键。", "Pour revenir en arrière, tapez étoile puis dièse.",
                   "To go back, press star then hash."),
    "card_accepted": _t("充值成功。", "Votre recharge est faite.", "Your card is accepted."),
    "credit_added": _t("充值金额为", "Crédit ajouté\u00a0:", "Credit added:"),
    "validity_extended": _t("有效期延长", "Validité prolongée de", "Validity extended by"),
    "validity_unchanged": _t("此卡只增加余额，有效期不变。", "Ce ticket ajoute du crédit, la validité ne change pas.",
                             "This card adds credit only; the validity does not change."),
    "sms_confirmation": _t("确认短信即将发送到该号码。", "Un SMS de confirmation est envoyé à la ligne.",
                           "A confirmation text message is on its way to the line."),
    "card_invalid": _t("此充值卡无法使用。请核对密码后重试。", "Ce ticket ne peut pas être utilisé. Vérifiez le code et réessayez.",
                       "This card cannot be used. Check the PIN and try again."),
    "card_locked": _t("此号码输错密码次数过多，请明天再用充值卡充值，或联系人工服务。",
                      "Trop de codes erronés pour ce numéro. Réessayez demain avec votre ticket, ou demandez un conseiller.",
                      "Too many wrong PINs for this number. Please try a card again tomorrow, or ask an agent."),
    "card_cap": _t("充值后有效期将超过上限，此卡未被使用。",
                   "Ce ticket dépasserait la validité maximale. Il n'a pas été utilisé.",
                   "This card would go past the longest validity allowed. It was not used."),
    "cards_unavailable": _t("暂时无法使用充值卡。", "Les tickets de recharge ne sont pas acceptés pour le moment.",
                            "Recharge cards cannot be used at the moment."),
    "not_renewable": _t("此号码无法充值。", "Ce numéro ne peut pas être rechargé.", "This number cannot be recharged."),
    # The renewal link by SMS.
    "link_sent": _t("充值链接已通过短信发送到您的号码。", "Nous avons envoyé un lien de recharge par SMS à votre numéro.",
                    "We have sent a recharge link by text message to your number."),
    "link_already_sent": _t("本次通话已发送过充值链接。", "Le lien de recharge a déjà été envoyé pendant cet appel.",
                            "The recharge link was already sent during this call."),
    # A caller from another phone: the number, then the portal's sign-in code.
    "number_enter": _t("请输入您要查询的手机号码，然后按井号键。",
                       "Tapez le numéro de mobile à consulter, puis la touche dièse.",
                       "Type the mobile number you want to check, then the hash key."),
    "number_invalid": _t("这不是我们可以查询的号码。", "Ce numéro ne peut pas être consulté ici.",
                         "This is not a number we can check."),
    "code_sent": _t("如果这是我们的号码，我们已通过短信向它发送了验证码。",
                    "Si ce numéro est chez nous, nous venons de lui envoyer un code par SMS.",
                    "If this number is one of ours, we have just sent it a code by text message."),
    "code_earlier": _t("之前发送的验证码仍然有效。", "Le code envoyé tout à l'heure est toujours valable.",
                       "The code we sent earlier is still valid."),
    "code_enter": _t("请输入验证码，然后按井号键。", "Tapez le code, puis la touche dièse.",
                     "Type the code, then the hash key."),
    "code_card": _t("如需不用验证码直接用充值卡为此号码充值，请按星号键和井号键。",
                    "Pour recharger ce numéro avec un ticket sans le code, tapez étoile puis dièse.",
                    "To recharge this number with a card without the code, press star then hash."),
    "code_other_number": _t("如需输入其他号码，请按0和井号键。", "Pour taper un autre numéro, tapez 0 puis dièse.",
                            "To type another number, press 0 then hash."),
    "code_wrong": _t("验证码不正确，请重试。", "Ce code n'est pas le bon. Réessayez.", "This code is not right. Please try again."),
    "code_closed": _t("目前无法验证此号码的验证码，请稍后再拨。",
                      "Aucun code ne peut être vérifié pour ce numéro pour l'instant. Rappelez plus tard.",
                      "No code can be checked for this number now. Please call again later."),
    # Keys, silences, agents, the end.
    "invalid_key": _t("您按的键无效。", "Cette touche ne correspond à aucun choix.", "That key is not one of the choices."),
    "no_input": _t("我们没有收到您的按键。", "Nous n'avons pas entendu de touche.", "We did not hear a key."),
    "agent_transfer": _t("正在为您转接人工服务，请稍候。", "Nous vous mettons en relation avec un conseiller, ne quittez pas.",
                         "Please hold, we are putting you through to an agent."),
    "agent_unavailable": _t("目前没有人工服务。请稍后再拨，或继续使用菜单。",
                            "Aucun conseiller n'est disponible pour le moment. Rappelez plus tard, ou utilisez le menu.",
                            "No agent is available at the moment. Please call again later, or use the menu."),
    "goodbye": _t("感谢您的来电，再见。", "Merci de votre appel, au revoir.", "Thank you for calling. Goodbye."),
    "technical_problem": _t("抱歉，系统出现技术问题，请稍后再拨。",
                            "Désolés, nous avons un problème technique. Rappelez plus tard.",
                            "Sorry, we have a technical problem. Please call again later."),
}


def say(language: str, *names: str) -> tuple[Prompt, ...]:
    """These sentences in one language, leaving out those the language does not need (an empty text)."""
    return tuple(Prompt(language, name) for name in names if TEXTS[name][language])
