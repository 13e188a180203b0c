// The recharge-card form (portal/card.html). A file of its own, not an inline script: the Content-Security-Policy
// allows scripts from /static only (web/headers.py). The form works without it (the PIN is typed).
//
// A card's QR code opens /renew/card#pin=PIN (voucher/pins.py). The fragment never reaches the server; this copies
// the PIN into the field, then takes the fragment out of the address bar and of this history entry, so the PIN is
// not left where the next person to use the phone, a bookmark or a shared link would find it.
(() => {
  const field = document.getElementById("pin");
  const SEPARATORS = /[\s\-.\u00a0\u202f]/g;
  const grouped = (digits) => digits.replace(/(\d{4})(?=\d)/g, "$1 ");  // 1234 5678 9012 345, as printed

  if (location.hash) {
    const pin = new URLSearchParams(location.hash.slice(1)).get("pin");
    if (field && pin) {
      const digits = pin.replace(SEPARATORS, "");
      if (/^\d{1,20}$/.test(digits)) field.value = grouped(digits);
    }
    if (pin !== null) history.replaceState(history.state, "", location.pathname + location.search);
  }
  if (!field) return;
  if (field.value) {
    // The PIN came from the card: the number is what is left to type.
    const number = document.getElementById("msisdn");
    if (number && !number.value) number.focus();
  }

  // Grouped by four as it is typed; the caret stays after the same digit. Anything else typed is left alone (the
  // server says the PIN cannot be used, and the check digit catches a typo before any lookup).
  field.addEventListener("input", () => {
    const value = field.value;
    if (!/^[\d\s\-.\u00a0\u202f]*$/.test(value)) return;
    const caret = field.selectionStart ?? value.length;
    const digitsBefore = value.slice(0, caret).replace(/\D/g, "").length;
    const next = grouped(value.replace(/\D/g, ""));
    if (next === value) return;
    field.value = next;
    let position = 0;
    for (let seen = 0; position < next.length && seen < digitsBefore; position += 1) {
      if (/\d/.test(next[position])) seen += 1;
    }
    field.setSelectionRange(position, position);
  });
})();
