"""The back office in a real browser: an admin signs in with a password and a TOTP code, the session cookie is
HttpOnly and SameSite=Lax, and signing out ends it on the server (the copied cookie opens nothing)."""

from __future__ import annotations

from tests.factories.staff import make_staff, sign_in_page


def test_an_admin_signs_in_with_totp_and_signs_out_for_good(open_page, portal):
    ada = make_staff(portal.db, portal.settings, username="ada", role="admin")
    page = open_page("fr")
    page.goto(portal.url("/admin/review"))
    page.wait_for_url(portal.url("/admin"))  # no session: the sign-in page
    sign_in_page(page, portal.base, portal.db, ada)
    assert page.url == portal.url("/admin/review")
    [cookie] = [c for c in page.context.cookies() if c["name"] == "simkeep_session"]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["secure"]) == (True, "Lax", False)
    page.goto(portal.url("/admin/account"))
    assert page.locator("text=Mes sessions").count() == 1
    page.click("form[action='/admin/signout'] button")
    page.wait_for_url(portal.url("/admin"))

    other = open_page("en")
    other.context.add_cookies([{"name": cookie["name"], "value": cookie["value"], "url": portal.base}])
    other.goto(portal.url("/admin/review"))
    other.wait_for_url(portal.url("/admin"))  # the copied cookie ended with the sign-out
