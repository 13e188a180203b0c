// The card page (portal/action_stripe_js.html): Stripe.js owns the card fields; card data never reach simkeep.
// A file, not an inline script, so the Content-Security-Policy allows no inline script (web/headers.py).
(() => {
  const form = document.getElementById("stripe-form");
  const button = document.getElementById("stripe-pay");
  const errors = document.getElementById("stripe-errors");
  if (typeof Stripe === "undefined") {  // Stripe.js did not load: nothing can be paid from here
    document.getElementById("stripe-unreachable").hidden = false;
    button.disabled = true;
    return;
  }
  const stripe = Stripe(form.dataset.publishableKey, { locale: form.dataset.locale });
  const card = stripe.elements().create("card", { hidePostalCode: true });
  card.mount("#stripe-card-element");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.dataset.sent) return;  // one confirmation at a time
    form.dataset.sent = "1";
    button.disabled = true;
    errors.hidden = true;
    // Stripe.js sends the card to Stripe and runs 3-D Secure when the bank asks for it.
    const result = await stripe.confirmCardPayment(form.dataset.clientSecret, { payment_method: { card } });
    if (result.error && result.error.type === "validation_error") {
      // Nothing reached the bank: the payer corrects the card details and tries again.
      errors.textContent = result.error.message;
      errors.hidden = false;
      delete form.dataset.sent;
      button.disabled = false;
      return;
    }
    // Paid, declined or still waiting: simkeep's result page shows what Stripe's webhook settles.
    window.location.assign(form.dataset.returnUrl);
  });
})();
