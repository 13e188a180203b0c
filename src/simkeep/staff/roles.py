"""Roles and what each may do in the back office: one table, read by the one page dependency.

- admin: everything, and staff management.
- support: reads the payment review queue, the bank review queue, the message log and message templates; moves
  no money.
- finance: reads the review queues and the reconciliation; settles review items (credit, refund through the
  provider, dismiss) and bank entries; imports bank statements.
- reseller: a reseller's own people, bound to one reseller account: its float, purchases, commissions and
  statement, buying e-PINs and topping up a customer's line from the float (/reseller pages); nothing else.
- agent: a store's counter staff, bound to one store: the console (look a number up, check an ID, sell a renewal
  for cash, card or a recharge card, print and reprint its receipts) and their own cash drawer; nothing of another
  store, nothing of the back office.
- store_manager: an agent who also voids a sale (within SIMKEEP_STORE_VOID_MINUTES), closes any drawer of the store,
  registers the store's counter tablets and reads the store's statement.
Stores: admin manages the directory; finance and admin read every store's statement.
Vouchers: support looks cards up (a customer's "my card did not work"); finance and admin make batches, sell and
block ranges, approve another person's bulk action, and manage resellers and their deposits.
Partners (cashback and affiliate sites): finance and admin create them and read their monthly statements.
Promotions: finance and admin create campaigns, start, pause and resume them, and read who is eligible and what each
cost (its cost is the operator's promotion expense, which finance answers for; an operator's marketing people get a
finance account for this). Support does not: a campaign moves money.
Network inventory (SIM cards and numbers): support and admin look cards and numbers up (network.read); admin imports
the vendor's files, assigns a card to a line, swaps it and reports one lost (network.manage): these change what the
network lets a number do.
Back office (issue 16): support, finance and admin read the dashboard and find a line and its timeline
(lines.read); support and admin act on a line from it (lines.act: a note, resend a confirmation, pause reminders;
refunds stay review.refund). Finance and admin export the books (accounting.read: journal, balances, FEC, the
receipt register) and read the audit log (audit.read). dpo: the data-protection officer answers access requests
(privacy.read: the retention page, a subscriber's archive) and erases a former subscriber's personal data
(privacy.erase); admin may too.
"""

from __future__ import annotations

ROLES = ("admin", "support", "finance", "dpo", "store_manager", "agent", "reseller")
BACK_OFFICE = ("admin", "support", "finance", "dpo", "reseller")  # what `simkeep staff create` makes
STORE_ROLES = ("store_manager", "agent")  # bound to one store (StaffAccount.store_id): `simkeep store staff add`

PERMISSIONS: dict[str, frozenset[str]] = {
    "review.read": frozenset({"admin", "support", "finance"}),
    "review.settle": frozenset({"admin", "finance"}),
    "review.refund": frozenset({"admin", "finance"}),
    "messages.read": frozenset({"admin", "support"}),
    "templates.read": frozenset({"admin", "support"}),
    "reconciliation.read": frozenset({"admin", "finance"}),
    "bank.review.read": frozenset({"admin", "support", "finance"}),
    "bank.settle": frozenset({"admin", "finance"}),
    "bank.import": frozenset({"admin", "finance"}),
    "staff.manage": frozenset({"admin"}),
    "vouchers.read": frozenset({"admin", "support", "finance"}),
    "vouchers.manage": frozenset({"admin", "finance"}),
    "resellers.manage": frozenset({"admin", "finance"}),
    "reseller.self": frozenset({"reseller"}),
    "store.console": frozenset({"store_manager", "agent"}),
    "store.manage": frozenset({"store_manager"}),
    "stores.manage": frozenset({"admin"}),
    "stores.statements": frozenset({"admin", "finance"}),
    "partners.manage": frozenset({"admin", "finance"}),  # cashback partners: create, statements
    "promotions.manage": frozenset({"admin", "finance"}),
    "network.read": frozenset({"admin", "support"}),
    "network.manage": frozenset({"admin"}),
    "dashboard.read": frozenset({"admin", "support", "finance"}),
    "lines.read": frozenset({"admin", "support", "finance"}),
    "lines.act": frozenset({"admin", "support"}),
    "accounting.read": frozenset({"admin", "finance"}),
    "audit.read": frozenset({"admin", "finance"}),
    "privacy.read": frozenset({"admin", "dpo"}),
    "privacy.erase": frozenset({"admin", "dpo"}),
}

# What only people bound to a store have: the permissions admin.access.in_store checks with the store.
STORE_PERMISSIONS = frozenset(p for p, who in PERMISSIONS.items() if who <= frozenset(STORE_ROLES))


def may(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]


def home(role: str) -> str:
    """Where a staff member lands after signing in."""
    if may(role, "review.read"):
        return "/admin/review"
    if may(role, "privacy.read"):
        return "/admin/privacy"
    if may(role, "store.console"):
        return "/counter"
    return "/reseller" if may(role, "reseller.self") else "/admin/account"
