"""The ledger in the words of French accounting: each ledger account kind mapped to an account of the Plan Comptable
Général (PCG, ANC regulation 2014-03), each journal entry kind to a journal. The FEC, the journal and the balances
all read this one table, so a tax auditor and the finance team see the same numbers under the same accounts.

Signs: the ledger writes a credit as a positive amount and a debit as a negative one (a subscriber's credit grows
with positive postings, a clearing account goes negative as money comes in).

Accounts kept one per owner (a subscriber's credit and bonus, a reseller's float, a store's account) are
auxiliary accounts of one PCG account: in the FEC, CompAuxNum is the ledger account's id (never a phone number
or a name: the file goes to the tax office, personal data is kept out of it)."""

from __future__ import annotations

from dataclasses import dataclass

from simkeep.ledger import service as ledger


@dataclass(frozen=True, slots=True)
class PcgAccount:
    number: str  # CompteNum: the PCG account, extended to eight digits
    label: str  # CompteLib
    auxiliary: str | None = None  # CompAuxLib for accounts kept one per owner; None: a general account


# Ledger account kind → PCG account. Clearing accounts (ledger.CLEARING) are mapped per clearing below.
ACCOUNTS: dict[str, PcgAccount] = {
    # What subscribers paid in advance and may still spend: a customer prepayment, owed until used or forfeited.
    ledger.SUBSCRIBER_CREDIT: PcgAccount("41911000", "Clients - avances reçues (crédit prépayé)", "Abonné"),
    # Promotional credit granted and not yet used: an allowance still to be given (avoir à établir).
    ledger.SUBSCRIBER_BONUS: PcgAccount("41980000", "Clients - avoirs à établir (crédit bonus)", "Abonné"),
    # A reseller's prepaid float: money received before the reseller buys cards.
    ledger.RESELLER_FLOAT: PcgAccount("41912000", "Clients - avances reçues (provisions revendeurs)", "Revendeur"),
    # What a store collected for us and owes (negative: a receivable), less its commission.
    ledger.STORE_ACCOUNT: PcgAccount("46700000", "Autres comptes débiteurs ou créditeurs - points de vente",
                                     "Point de vente"),
    ledger.REVENUE: PcgAccount("70600000", "Prestations de services"),
    # Credit that expired unused (forfeited at deactivation) and vouchers never redeemed.
    ledger.BREAKAGE: PcgAccount("75800000", "Produits divers de gestion courante (crédit non utilisé)"),
    # Discounts and bonus credit reduce the price of what was sold: rebates granted, not a marketing cost.
    ledger.PROMOTION_EXPENSE: PcgAccount("70900000", "Rabais, remises et ristournes accordés"),
    # Sold cards not yet redeemed: revenue received in advance.
    ledger.VOUCHER_LIABILITY: PcgAccount("48700000", "Produits constatés d'avance (cartes prépayées)"),
    ledger.COMMISSION: PcgAccount("62221000", "Commissions sur ventes - revendeurs"),
    ledger.STORE_COMMISSION: PcgAccount("62222000", "Commissions sur ventes - points de vente"),
    ledger.CASH_OVER_SHORT: PcgAccount("65800000", "Charges diverses de gestion courante (écarts de caisse)"),
    ledger.PARTNER_PAYABLE: PcgAccount("40110000", "Fournisseurs - partenaires (cashback, affiliation)"),
    ledger.MARKETING_EXPENSE: PcgAccount("62300000", "Publicité, publications, relations publiques"),
}

# Clearing accounts (ledger.clearing_account_id): money a channel or a provider took, not yet paid out to us.
_CHANNEL_NUMBERS = {"portal": "51110001", "voucher": "51110002", "agent": "51110003", "ivr": "51110004",
                    "sms": "51110005", "api": "51110006", "auto_renew": "51110007", "reseller": "51110008"}
_PROVIDER_NUMBERS = {"sandbox": "51120001", "stripe": "51120002", "paypal": "51120003", "sepa": "51120004"}
CLEARINGS: dict[str, PcgAccount] = {
    **{name: PcgAccount(number, f"Valeurs à l'encaissement - canal {name}")
       for name, number in _CHANNEL_NUMBERS.items()},
    **{ledger.provider_clearing(name): PcgAccount(number, f"Valeurs à l'encaissement - prestataire {name}")
       for name, number in _PROVIDER_NUMBERS.items()},
    ledger.CARD_PRESENT: PcgAccount("51150000", "Cartes bancaires à l'encaissement (terminaux des points de vente)"),
    # Cash or transfers a store sent that the bank statement has not shown yet: an internal transfer.
    ledger.STORE_REMITTANCE: PcgAccount("58000000", "Virements internes (versements des points de vente)"),
}
# An account simkeep does not know yet (a kind added after this table) waits here, visibly, until it is mapped.
SUSPENSE = PcgAccount("47100000", "Compte d'attente")
OWNER_KINDS = tuple(kind for kind, account in ACCOUNTS.items() if account.auxiliary)


def pcg_account(kind: str, code: str) -> PcgAccount:
    """The PCG account of a ledger account, from its kind and code ("channel_clearing:provider:stripe:EUR")."""
    if kind == ledger.CLEARING:
        return CLEARINGS.get(code.split(":", 1)[1].rsplit(":", 1)[0], SUSPENSE)
    return ACCOUNTS.get(kind, SUSPENSE)


@dataclass(frozen=True, slots=True)
class Journal:
    code: str  # JournalCode
    label: str  # JournalLib


SALES = Journal("VE", "Ventes")
BANK = Journal("BQ", "Banque et encaissements")
OTHER = Journal("OD", "Opérations diverses")
JOURNALS = (SALES, BANK, OTHER)

# Journal entry kind → (journal, EcritureLib). Sales: renewals, card sales to resellers, charges against credit.
# Bank: money received from or paid back to someone outside (deposits, remittances, refunds). Everything else —
# forfeits, breakage, voids, reversals, drawer differences, partner commissions — is a miscellaneous operation;
# a kind not listed here goes to OD under its own name.
ENTRY_KINDS: dict[str, tuple[Journal, str]] = {
    "topup": (SALES, "Recharge"),
    "voucher_sale": (SALES, "Vente de cartes prépayées"),
    "charge": (SALES, "Consommation de crédit"),
    "reseller_deposit": (BANK, "Provision revendeur reçue"),
    "store_remittance": (BANK, "Versement d'un point de vente"),
    "refund": (BANK, "Remboursement"),
    "refund_reversal": (BANK, "Remboursement refusé par le prestataire"),
    "forfeit": (OTHER, "Crédit perdu à la désactivation"),
    "voucher_breakage": (OTHER, "Cartes prépayées expirées"),
    "void": (OTHER, "Annulation d'une vente en point de vente"),
    "drawer_over_short": (OTHER, "Écart de caisse"),
    "cashback": (OTHER, "Cashback client"),
    "cashback_clawback": (OTHER, "Reprise de cashback"),
    "partner_commission": (OTHER, "Commission partenaire"),
    "partner_commission_reversal": (OTHER, "Annulation de commission partenaire"),
}


def journal_of(kind: str) -> tuple[Journal, str]:
    return ENTRY_KINDS.get(kind, (OTHER, kind))
