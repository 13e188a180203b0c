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

// A payment's waiting page asks for its outcome until it is known, less and less often: the first delay, doubled
// up to a cap, a bounded number of times (data-poll-first, -cap and -tries, in ms; a bank transfer asks rarely).
// Then it stops and shows "check again", which asks at once and starts the schedule over. data-polls counts the
// answers handled so far.
const outcome = document.querySelector("[data-poll]");
if (outcome) {
  const FINAL = ["succeeded", "failed", "review"];
  const first = Number(outcome.dataset.pollFirst) || 1000;
  const cap = Number(outcome.dataset.pollCap) || first;
  const tries = Number(outcome.dataset.pollTries) || 1;
  const again = document.getElementById("check-again");
  let asked = 0;  // questions scheduled since the schedule (re)started
  let answered = 0;
  const ask = async () => {
    try {
      const response = await fetch(outcome.dataset.poll, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        if (data.status !== outcome.dataset.status) { outcome.innerHTML = data.html; outcome.dataset.status = data.status; }
      }
    } catch (e) { /* offline for a moment: the next one tries again */ }
    answered += 1;
    outcome.dataset.polls = String(answered);
  };
  const schedule = () => {
    if (FINAL.includes(outcome.dataset.status)) return;
    if (asked >= tries) { if (again) again.hidden = false; return; }
    const delay = Math.min(first * 2 ** asked, cap);
    asked += 1;
    setTimeout(() => ask().then(schedule), delay);
  };
  if (again) {
    again.addEventListener("click", (event) => {
      if (!event.target.closest("a")) return;
      event.preventDefault();
      again.hidden = true;
      asked = 0;
      ask().then(schedule);
    });
  }
  schedule();
}

// The reader's time zone, so times the server writes (when sign-in codes come back) are in the reader's zone.
try {
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (tz && !document.cookie.split("; ").includes("tz=" + tz)) {
    document.cookie = "tz=" + tz + "; path=/; max-age=31536000; samesite=lax";
  }
} catch (e) { /* an old browser: the operator's zone, named on the page */ }
