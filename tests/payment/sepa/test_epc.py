import uuid

import pytest
import segno
from stdnum import iso11649

from simkeep.core.errors import InvalidInput
from simkeep.payment.providers.sepa import epc
from simkeep.payment.providers.sepa.epc import InvalidAccount

IBAN, BIC = "FR7630006000011234567890189", "AGRIFRPP"


def test_the_account_is_validated_and_printed_compact():
    assert epc.check_account("fr76 3000 6000 0112 3456 7890 189", "agrifrppxxx") == (IBAN, "AGRIFRPPXXX")


@pytest.mark.parametrize(("iban", "bic", "message"), [
    ("FR7630006000011234567890188", BIC, "SIMKEEP_SEPA_IBAN 'FR7630006000011234567890188' is not a valid IBAN: .*checksum"),
    ("FR76300060000112345678901", BIC, "SIMKEEP_SEPA_IBAN .* is not a valid IBAN"),
    ("XX7630006000011234567890189", BIC, "SIMKEEP_SEPA_IBAN .* is not a valid IBAN"),
    ("", BIC, "SIMKEEP_SEPA_IBAN '' is not a valid IBAN"),
    (IBAN, "AGRIFRP", "SIMKEEP_SEPA_BIC 'AGRIFRP' is not a valid BIC"),
    (IBAN, "AGRI1RPP", "SIMKEEP_SEPA_BIC 'AGRI1RPP' is not a valid BIC"),
    (IBAN, "AGRIXXPP", "SIMKEEP_SEPA_BIC 'AGRIXXPP' is not a valid BIC"),
])
def test_a_wrong_iban_or_bic_is_refused_with_the_setting_named(iban, bic, message):
    with pytest.raises(InvalidAccount, match=message):
        epc.check_account(iban, bic)


def test_the_creditor_reference_is_iso_11649_and_follows_the_attempt_id():
    attempt = uuid.UUID("01930000-0000-7000-8000-00000000a001")
    ref = epc.creditor_reference(attempt)
    assert ref == "RF902E4NENOWZ3QMBIF5" == epc.creditor_reference(str(attempt))
    assert iso11649.is_valid(ref) and iso11649.format(ref) == "RF90 2E4N ENOW Z3QM BIF5"
    refs = {epc.creditor_reference(uuid.uuid4()) for _ in range(2000)}
    assert len(refs) == 2000 and all(len(r) == 20 and iso11649.is_valid(r) for r in refs)


def test_the_epc_qr_payload_has_the_exact_lines():
    text = epc.payload(bic=BIC, name="simkeep demo operator", iban=IBAN, amount_minor=1234, currency="EUR",
                       reference="RF90 2E4N ENOW Z3QM BIF5")
    assert text.split("\n") == ["BCD", "002", "1", "SCT", "AGRIFRPP", "simkeep demo operator", IBAN, "EUR12.34", "",
                                "RF902E4NENOWZ3QMBIF5"]
    assert text == "BCD\n002\n1\nSCT\nAGRIFRPP\nsimkeep demo operator\nFR7630006000011234567890189\nEUR12.34\n\nRF902E4NENOWZ3QMBIF5"


@pytest.mark.parametrize(("minor", "amount"), [(1, "EUR0.01"), (1000, "EUR10.00"), (99_999_999_999, "EUR999999999.99")])
def test_amounts_in_the_payload(minor, amount):
    text = epc.payload(bic=BIC, name="x", iban=IBAN, amount_minor=minor, currency="EUR", reference="RF18539007547034")
    assert text.split("\n")[7] == amount


def test_names_are_one_line_utf8_and_at_most_70_characters():
    text = epc.payload(bic=BIC, name="  Opérateur   «Télécom»\n 中国 " + "x" * 80, iban=IBAN, amount_minor=500,
                       currency="EUR", reference="RF18539007547034")
    name = text.split("\n")[5]
    assert name.startswith("Opérateur «Télécom» 中国 xx") and len(name) == 70
    assert len(text.encode()) <= epc.MAX_PAYLOAD_BYTES


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"currency": "CNY"}, "in euro"), ({"amount_minor": 0}, "EUR 0.01"), ({"amount_minor": 100_000_000_000}, "EUR 0.01"),
    ({"name": "  "}, "beneficiary name"), ({"reference": "RF18539007547035"}, "not a valid ISO 11649 creditor reference"),
])
def test_what_a_sepa_qr_code_cannot_carry_is_refused(kwargs, message):
    args = dict(bic=BIC, name="x", iban=IBAN, amount_minor=500, currency="EUR", reference="RF18539007547034") | kwargs
    with pytest.raises(InvalidInput, match=message):
        epc.payload(**args)


def test_the_qr_code_is_an_inline_svg_at_level_m():
    text = epc.payload(bic=BIC, name="simkeep demo operator", iban=IBAN, amount_minor=1000, currency="EUR",
                       reference="RF902E4NENOWZ3QMBIF5")
    svg = epc.qr_inline(text)
    assert svg.startswith('<svg width="') and 'class="epc-qr"' in svg and svg.endswith("</svg>")
    assert "<script" not in svg and "<?xml" not in svg and "style" not in svg
    code = segno.make_qr(text, error="m", boost_error=False, encoding="utf-8")
    assert (code.error, code.version <= epc.MAX_QR_VERSION) == ("M", True)
