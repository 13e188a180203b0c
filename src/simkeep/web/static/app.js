// Small progressive enhancements; every page works without them. No inline script or handler anywhere: the
// Content-Security-Policy (web/headers.py) allows scripts from /static only.

// A menu marked data-autosubmit shows its choice at once (the <noscript> button does it without JavaScript).
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field.matches("select[data-autosubmit]") && field.form) field.form.submit();
});
document.addEventListener("submit", (event) => {
  // A double-click sends one request (the server also finds the first attempt by its checkout key).
  const form = event.target;
  if (!form.matches("[data-once]")) return;
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
  form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; });
});

// The payment result page asks for its outcome until it is known.
const outcome = document.querySelector("[data-poll]");
if (outcome) {
  const poll = async () => {
    if (["succeeded", "failed", "review"].includes(outcome.dataset.status)) return;
    try {
      const response = await fetch(outcome.dataset.poll, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        if (data.status !== outcome.dataset.status) { outcome.innerHTML = data.html; outcome.dataset.status = data.status; }
      }
    } catch (e) { /* offline for a moment: try again */ }
    setTimeout(poll, 1000);
  };
  setTimeout(poll, 1000);
}

// The reader's time zone, so times the server writes (when sign-in codes come back) are in the reader's zone.
try {
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (tz && !document.cookie.split("; ").includes("tz=" + tz)) {
    document.cookie = "tz=" + tz + "; path=/; max-age=31536000; samesite=lax";
  }
} catch (e) { /* an old browser: the operator's zone, named on the page */ }
