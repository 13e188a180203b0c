from html import unescape

import pytest

from tests.factories.snapshot import snapshot


@pytest.mark.parametrize("path", ["/sandbox/pay/sbx_unknown", "/sandbox/3ds/sbx_unknown"])
@pytest.mark.parametrize(("language", "text"), [("en", "We could not find this payment."),
                                                ("fr", "Nous n'avons pas trouvé ce paiement.")])
def test_an_unknown_sandbox_payment_is_a_translated_404(client, db, path, language, text):
    before = snapshot(db)
    page = client.get(f"{path}?lang={language}")
    assert page.status_code == 404
    assert text in unescape(page.text)
    assert snapshot(db) == before
