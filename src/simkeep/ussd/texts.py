"""Every USSD screen in zh_CN, fr and en, and the check that it fits one screen.

A screen is one USSD string: 182 characters in GSM-7 (160 octets packed), 80 in UCS-2 (160 octets), which is
what any Chinese character, and the language screen's "中文", costs. French typography (no-break spaces before
':' and ';') is folded to plain spaces on the way out, as SMS texts are (notification.segments).
"""

from __future__ import annotations

from simkeep.locale.languages import LANGUAGES
from simkeep.notification import segments

GSM7_LIMIT, UCS2_LIMIT = 182, 80
EN, FR, ZH = "en", "fr", "zh_CN"
CHOICES = {"1": ZH, "2": FR, "3": EN}  # the language screen, in the hotline's order

TEXTS: dict[str, dict[str, str]] = {
    "menu": {
        EN: "simkeep {number}\n1 Balance\n2 Renew with a recharge card\n3 Language\n0 Exit",
        FR: "simkeep {number}\n1 Solde\n2 Recharger avec une carte\n3 Langue\n0 Quitter",
        ZH: "simkeep {number}\n1.余额\n2.用充值卡续费\n3.语言\n0.退出",
    },
    "invalid": {EN: "Invalid choice.", FR: "Choix non valide.", ZH: "输入无效。"},
    "balance": {
        EN: "Balance: {balance}\nValid until {validity_end}\nNumber kept until {loss_date}\n9 Menu\n0 Exit",
        FR: "Solde\u00a0: {balance}\nValable jusqu'au {validity_end}\nNuméro gardé jusqu'au {loss_date}\n9 Menu\n"
            "0 Quitter",
        ZH: "余额：{balance}\n有效期至{validity_end}\n号码保留至{loss_date}\n9.菜单\n0.退出",
    },
    "pin": {
        EN: "Type the PIN of your recharge card\n0 Back",
        FR: "Tapez le code de votre carte de recharge\n0 Retour",
        ZH: "请输入充值卡密码\n0.返回",
    },
    # The one answer for every PIN that fails (voucher.service: telling them apart would help a guesser).
    "pin_failed": {
        EN: "This PIN cannot be used. Check the digits; if it still fails, ask the seller.\nType the PIN again\n"
            "0 Back",
        FR: "Ce code ne peut pas servir. Vérifiez les chiffres\u202f; s'il échoue encore, demandez au "
            "vendeur.\nRetapez le code\n0 Retour",
        ZH: "此充值卡密码无法使用。请核对数字；如仍失败，请咨询售卡商。\n请重新输入密码\n0.返回",
    },
    "locked": {
        EN: "Too many wrong PINs for this number. Try again tomorrow, or call customer service.",
        FR: "Trop de codes erronés pour ce numéro. Réessayez demain, ou appelez le service client.",
        ZH: "此号码输错密码次数过多。请明天再试，或致电客服。",
    },
    "renewed": {
        EN: "Card accepted: {amount} added. Balance {balance}, valid until {validity_end}. Number kept until "
            "{loss_date}.",
        FR: "Carte acceptée\u00a0: {amount} ajoutés. Solde {balance}, valable jusqu'au {validity_end}. Numéro "
            "gardé jusqu'au {loss_date}.",
        ZH: "充值成功：已充入{amount}。余额{balance}，有效期至{validity_end}。号码保留至{loss_date}。",
    },
    "not_renewable": {
        EN: "The card was not used: this number cannot be renewed now. Call customer service.",
        FR: "La carte n'a pas été utilisée\u00a0: ce numéro ne se recharge pas pour l'instant. Appelez le "
            "service client.",
        ZH: "充值卡未被使用：此号码目前无法续费。请致电客服。",
    },
    "language": {
        EN: "Language\n1 中文\n2 Français\n3 English\n0 Back",
        FR: "Langue\n1 中文\n2 Français\n3 English\n0 Retour",
        ZH: "语言\n1.中文\n2.Français\n3.English\n0.返回",
    },
    "goodbye": {EN: "Goodbye.", FR: "Au revoir.", ZH: "再见。"},
    "no_line": {
        EN: "simkeep keeps no prepaid line for this number.",
        FR: "simkeep ne garde aucune ligne prépayée pour ce numéro.",
        ZH: "simkeep未保管此号码的预付费线路。",
    },
    "expired": {
        EN: "Your session has expired. Dial {code} again.",
        FR: "Votre session a expiré. Composez de nouveau le {code}.",
        ZH: "会话已超时。请重新拨打{code}。",
    },
}


def text(key: str, language: str, **fields: str) -> str:
    table = TEXTS[key]
    return table.get(language, table[EN]).format(**fields)


def size(screen: str) -> tuple[str, int]:
    """("GSM-7", septets) or ("UCS-2", UTF-16 units) of a screen as it goes out."""
    folded = segments.fold(screen)
    if segments.is_gsm7(folded):
        return "GSM-7", len(segments.gsm7_codes(folded))
    return "UCS-2", len(screen.encode("utf-16-be")) // 2


def fits(screen: str) -> bool:
    encoding, units = size(screen)
    return units <= (GSM7_LIMIT if encoding == "GSM-7" else UCS2_LIMIT)


assert all(set(table) == set(LANGUAGES) for table in TEXTS.values())
