"""One error hierarchy. Each error carries a stable snake_case code and the HTTP status it maps to."""

from typing import cast


class SimkeepError(Exception):
    code = "error"
    status = 400
    message = "The request could not be processed."

    def __init__(self, message: str | None = None, **details: object) -> None:
        self.message = message or self.message
        self.details = details
        super().__init__(self.message)


class InvalidInput(SimkeepError):
    code, status, message = "invalid_input", 422, "The request is not valid."


class InvalidMsisdn(InvalidInput):
    code, message = "invalid_msisdn", "This is not a valid mobile number for the operator's country."


class UnsupportedLanguage(InvalidInput):
    code, message = "unsupported_language", "Unknown or unsupported language tag: use zh-CN, fr or en (BCP 47)."


class InvalidAmount(InvalidInput):
    code, message = "invalid_amount", "The amount must be a positive whole number of minor units."


class IdempotencyKeyMissing(SimkeepError):
    code, status, message = "idempotency_key_missing", 400, "The Idempotency-Key header is required for requests that move money."


class NotFound(SimkeepError):
    code, status, message = "not_found", 404, "Not found."


class LineNotFound(NotFound):
    code, message = "line_not_found", "No line with this number."


class OperatorNotFound(NotFound):
    code, message = "operator_not_found", "No operator with this id."


class OfferNotFound(NotFound):
    code, message = "offer_not_found", "No offer with this id for the line's operator."


class TopUpNotFound(NotFound):
    code, message = "topup_not_found", "No top-up with this id."


class Conflict(SimkeepError):
    code, status, message = "conflict", 409, "The request conflicts with the current state."


class NumberUnavailable(Conflict):
    code, message = "number_unavailable", "This number is in use or in quarantine."


class LineNotRenewable(Conflict):
    code, message = "line_not_renewable", "This line is deactivated and can no longer be recharged."


class LineNotChargeable(Conflict):
    code, message = "line_not_chargeable", "This line cannot be charged in its current state."


class ValidityCapReached(Conflict):
    code, message = "validity_cap_reached", "This top-up would extend validity beyond the operator's limit."


class IdempotencyKeyReused(Conflict):
    code, message = "idempotency_key_reused", "This Idempotency-Key was already used with different parameters."


class InsufficientBalance(SimkeepError):
    code, status, message = "insufficient_balance", 402, "The balance is too low for this charge."


class CurrencyMismatch(SimkeepError):
    code, status, message = "currency_mismatch", 422, "Amounts in different currencies cannot be combined."


class Unauthorized(SimkeepError):
    code, status, message = "unauthorized", 401, "A valid bearer token is required."


class Forbidden(SimkeepError):
    code, status, message = "forbidden", 403, "This token may not do that."


class CatalogError(SimkeepError):
    """A malformed catalog file; the message names the field."""

    code, status, message = "invalid_catalog", 422, "The catalog is malformed."


class LedgerUnbalanced(SimkeepError):
    code, status, message = "ledger_unbalanced", 500, "A journal entry does not sum to zero."


class RateLimited(SimkeepError):
    code, status, message = "rate_limited", 429, "Too many requests; try again later."


# -- vouchers and resellers ---------------------------------------------------------------------------------------

class VoucherInvalid(InvalidInput):
    """One answer for every failed PIN (unknown, used, blocked, expired, not sold, another operator's, a typo):
    telling them apart would tell a guesser which PINs exist. Staff see the exact reason (voucher_failures)."""

    code, message = "voucher_invalid", "This recharge card PIN cannot be used. Check the digits; if it still fails, ask the seller or customer service."


class VoucherLocked(SimkeepError):
    code, status, message = "voucher_locked", 429, "Too many wrong recharge card PINs for this number. Try again tomorrow, or call customer service."


class VouchersNotConfigured(SimkeepError):
    code, status, message = "vouchers_not_configured", 503, "Recharge vouchers are not set up: SIMKEEP_VOUCHER_PEPPER and SIMKEEP_VOUCHER_SEAL_KEY are required."


class VoucherNotFound(NotFound):
    code, message = "voucher_not_found", "No voucher with this serial."


class BatchNotFound(NotFound):
    code, message = "voucher_batch_not_found", "No voucher batch with this id."


class BatchAlreadyExported(Conflict):
    code, message = "voucher_batch_exported", "This batch's PINs were already handed out; they are never shown twice."


class ActionNotFound(NotFound):
    code, message = "voucher_action_not_found", "No pending voucher action with this id."


class SecondApproverRequired(Conflict):
    code, message = "second_approver_required", "Another staff member must approve this action (maker-checker)."


class ResellerNotFound(NotFound):
    code, message = "reseller_not_found", "No reseller with this code."


class ResellerExists(Conflict):
    code, message = "reseller_exists", "A reseller with this code already exists."


class InsufficientFloat(SimkeepError):
    code, status, message = "insufficient_float", 402, "The reseller's float is too low for this purchase; nothing was bought."


# -- quotes and promotions ----------------------------------------------------------------------------------------

class QuoteNotFound(NotFound):
    code, message = "quote_not_found", "No such quote. Ask for a new price."


class QuoteExpired(Conflict):
    code, message = "quote_expired", "This price has expired. Ask for a new quote; nothing was charged."


class QuoteMismatch(Conflict):
    code, message = "quote_mismatch", "This quote is for another number, offer or channel; nothing was charged."


class QuoteUsed(Conflict):
    code, message = "quote_used", "This quote was already paid; ask for a new one to renew again."


class PromotionUnavailable(Conflict):
    code, message = "promotion_unavailable", "The promotion in this price has ended or run out; ask for a new quote. Nothing was charged."


class PromoCodeInvalid(InvalidInput):
    code, message = "promo_code_invalid", "This promo code is unknown, has expired or does not apply to this renewal."


class PromotionNotFound(NotFound):
    code, message = "promotion_not_found", "No campaign with this id."


class PromoCodeTaken(Conflict):
    code, message = "promo_code_taken", "Another campaign already uses this promo code."


class PlanDateInvalid(InvalidInput):
    code, message = "plan_date_invalid", "Choose a date from tomorrow up to ten years ahead."


class NoPlan(Conflict):
    code, message = "no_plan", "No sequence of renewals keeps this number until that date."



# -- network: SIM and number inventory ------------------------------------------------------------------------------

class InventoryFileRefused(InvalidInput):
    """A vendor file with bad rows: nothing of it is imported. `rows` lists each bad row's line number and reason."""

    code, message = "inventory_file_refused", "The file was refused and nothing was imported: fix the rows listed and import it again."

    @property
    def rows(self) -> list[dict]:
        return cast(list[dict], self.details["rows"])


class SimNotFound(NotFound):
    code, message = "sim_not_found", "No SIM card with this ICCID."


class SimNotInStock(Conflict):
    code, message = "sim_not_in_stock", "This SIM card is not in stock: it is assigned to a line, lost or retired."


class SimWrongOperator(Conflict):
    code, message = "sim_wrong_operator", "This SIM card belongs to another operator than the line's."


class LineHasSim(Conflict):
    code, message = "line_has_sim", "This line already has a SIM card: swap it instead."


class LineHasNoSim(Conflict):
    code, message = "line_has_no_sim", "This line has no SIM card: assign one first."


class LineNotLive(Conflict):
    code, message = "line_not_live", "This line is deactivated or no longer holds its number: it cannot take a SIM card."


# -- eSIM profiles ------------------------------------------------------------------------------------------------

class EsimNotConfigured(SimkeepError):
    code, status, message = "esim_not_configured", 503, "eSIM profiles are not set up: SIMKEEP_ESIM_SEAL_KEY is required."


class EsimImportRefused(InvalidInput):
    code, message = "esim_import_refused", "The profile file was refused; nothing was imported."

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems=problems)
        self.problems = problems  # "line N: why", one per refused row


class EsimUnavailable(Conflict):
    code, message = "esim_unavailable", "No eSIM profile of this operator is in stock."


class EsimNotFound(NotFound):
    code, message = "esim_not_found", "This line has no eSIM profile."


class EsimLinkInvalid(NotFound):
    code, message = "esim_link_invalid", "This eSIM link is not valid or has expired."
