// Small progressive enhancements; every page works without them. No inline script or handler anywhere: the
// Content-Security-Policy (web/headers.py) allows scripts from /static only.

// A menu marked data-autosubmit shows its choice at once (the <noscript> button does it without JavaScript).
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field.matches("select[data-autosubmit]") && field.form) field.form.submit();
});
// A print button (data-print: the eSIM's QR code at the counter and in the portal) is shown only where it can work.
document.querySelectorAll("[data-print]").forEach((button) => { button.hidden = false; });
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
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
  const WAITING = ["created", "pending"];  // payment.models.OPEN: any other status is an answer
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
    if (!WAITING.includes(outcome.dataset.status)) return;
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

// -- the app on the home screen ------------------------------------------------------------------------------------
// The service worker (/sw.js) keeps the app shell, so that offline the portal opens on its offline page. Browsers
// allow it only in a secure context (https, or localhost): on plain http the site works as before, without it.
if ("serviceWorker" in navigator && !location.pathname.startsWith("/admin")) {
  navigator.serviceWorker.register("/sw.js").catch(() => { /* not a secure context, or storage is off */ });
}

// The last status this phone saw, for the offline page: the number, state, validity end and balance of each of the
// subscriber's lines, and when "My lines" showed them. In this browser only; removed when the subscriber signs out.
const STATUS_KEY = "simkeep.status";
const seen = document.querySelector("[data-status-seen]");
if (seen) {
  const text = (line, name) => line.querySelector(`[data-field="${name}"]`).textContent.trim();
  const lines = [...document.querySelectorAll("[data-line]")].map((line) => ({
    number: text(line, "number"), state: text(line, "state"), stateName: line.dataset.line,
    validUntil: text(line, "valid-until"), balance: text(line, "balance"),
  }));
  try {
    localStorage.setItem(STATUS_KEY, JSON.stringify({
      lang: document.documentElement.lang, seen: seen.textContent.trim(), seenAt: seen.getAttribute("datetime"), lines,
    }));
  } catch (e) { /* storage full or off: the offline page will say it has nothing */ }
}
document.addEventListener("submit", (event) => {
  if (event.target.matches('form[action="/signout"]')) {
    try { localStorage.removeItem(STATUS_KEY); } catch (e) { /* storage off: nothing was kept */ }
  }
});

const lastStatus = document.getElementById("last-status");
if (lastStatus) {
  let status = null;
  try { status = JSON.parse(localStorage.getItem(STATUS_KEY)); } catch (e) { /* nothing readable kept */ }
  if (status && Array.isArray(status.lines) && status.lines.length) {
    const list = document.getElementById("offline-lines");
    const template = document.getElementById("offline-line");
    const seenAt = document.getElementById("seen-at");
    seenAt.textContent = status.seen;
    seenAt.setAttribute("datetime", status.seenAt);
    seenAt.lang = status.lang;  // the words were kept in the language they were read in
    for (const line of status.lines) {
      const item = template.content.cloneNode(true);
      const card = item.querySelector("article");
      if (/^[a-z]+$/.test(line.stateName)) card.classList.add(`state-${line.stateName}`);
      for (const [name, key] of [["number", "number"], ["state", "state"], ["valid-until", "validUntil"],
        ["balance", "balance"]]) {
        const field = item.querySelector(`[data-field="${name}"]`);
        field.textContent = line[key];
        field.lang = status.lang;
      }
      list.appendChild(item);
    }
    lastStatus.hidden = false;
    document.getElementById("no-status").hidden = true;
  }
}
