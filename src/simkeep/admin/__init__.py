"""The back office: every /admin page, and a reseller's own /reseller pages (partner.py). Each domain exposes what
these pages show through its own service; this package only parses, checks the staff member's role (access.py) and
renders."""

from fastapi import APIRouter

from simkeep.admin import (
    bank,
    counter,
    counter_esim,
    counter_signin,
    devices,
    drawer,
    lines,
    network,
    pages,
    partner,
    partners,
    privacy,
    promotions,
    resellers,
    review,
    signin,
    stores,
    templates_pages,
    vouchers,
)

router = APIRouter()
for _part in (signin.router, review.router, lines.router, pages.router, templates_pages.router, bank.router,
              resellers.router, partner.router, vouchers.router, counter.router, counter_esim.router, drawer.router,
              devices.router, counter_signin.router, stores.router, partners.router, promotions.router, network.router,
              privacy.router):
    router.include_router(_part)
install = signin.install
