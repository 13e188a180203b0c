"""SEPA credit transfers, in one place: the provider adapter (`provider.py`) shows the payer the operator's account,
an RF reference and an EPC QR code (`epc.py`), and the bank statements (camt.053, `camt.py`) imported by staff
(`service.py`, `cli.py`, the admin pages) are how it learns that a transfer arrived.

Why here, under payment: a matched statement entry becomes a payment event handled by `payment.service` and a
mismatch waits in the payment review, so statement import depends on the payment domain; the payment domain in
turn only reaches it through its provider registry and reconciliation. Keeping both inside `payment/` makes the
dependency one-way at the package level (admin/ and cli import from here; nothing here imports them). Tables
(`bank_statements`, `bank_entries`), URLs (`/admin/bank/...`) and the CLI (`simkeep bank ...`) keep their names.
"""
