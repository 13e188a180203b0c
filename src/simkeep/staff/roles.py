"""Roles and what each may do in the back office: one table, read by the one page dependency.

- admin: everything, and staff management.
- support: reads the payment review queue, the bank review queue, the message log and message templates; moves
  no money.
- finance: reads the review queues and the reconciliation; settles review items (credit, refund through the
  provider, dismiss) and bank entries; imports bank statements.
- reseller: a reseller's own people, bound to one reseller account: its float, purchases, commissions and
  statement, buying e-PINs and topping up a customer's line from the float (/reseller pages); nothing else.
Store roles (store_manager, agent) are known names with no back-office permission yet: the store console will
give them theirs.
Vouchers: support looks cards up (a customer's "my card did not work"); finance and admin make batches, sell and
block ranges, approve another person's bulk action, and manage resellers and their deposits.
"""

from __future__ import annotations

ROLES = ("admin", "support", "finance", "store_manager", "agent", "reseller")
BACK_OFFICE = ("admin", "support", "finance", "reseller")  # roles `simkeep staff create` accepts today

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
}


def may(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]


def home(role: str) -> str:
    """Where a staff member lands after signing in."""
    if may(role, "review.read"):
        return "/admin/review"
    return "/reseller" if may(role, "reseller.self") else "/admin/account"
