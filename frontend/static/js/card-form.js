// The portal's card page (pages/pay_card_form.html): the gateway's own script turns the card
// into a token, and only the token (with brand and last four digits) is POSTed to Puente.
// Configuration comes from data attributes: the CSP allows no inline script.
(function () {
  "use strict";

  var form = document.querySelector("[data-card-form]");
  if (!form) return;
  var provider = form.getAttribute("data-provider");
  var publicKey = form.getAttribute("data-public-key");
  var errorBox = form.querySelector("[data-card-error]");

  function field(name) { var el = form.querySelector('[data-card="' + name + '"]'); return el ? el.value.trim() : ""; }
  function expiry() { var parts = field("exp").replace(/\s/g, "").split("/"); return { month: parts[0] || "", year: parts[1] || "" }; }
  function digits() { return field("number").replace(/[\s-]/g, ""); }
  function fail(message) {
    errorBox.textContent = message || "No pudimos verificar la tarjeta. Revisa los datos.";
    errorBox.hidden = false;
    form.querySelector("button").disabled = false;
  }
  function send(token, brand, last4) {
    form.elements.token.value = token;
    form.elements.brand.value = brand || "";
    form.elements.last4.value = last4 || digits().slice(-4);
    form.submit();  // a form POST: the token never goes in a URL
  }

  var tokenisers = {
    stripe: function () {
      var stripe = window.Stripe(publicKey);
      var card = stripe.elements().create("card");
      form.querySelector("[data-card-fields]").remove();
      var holder = form.querySelector("[data-card-element]");
      holder.hidden = false;
      card.mount(holder);
      return function () {
        stripe.createToken(card).then(function (result) {
          if (result.error) { fail(result.error.message); return; }
          send(result.token.id, result.token.card.brand, result.token.card.last4);
        });
      };
    },
    conekta: function () {
      window.Conekta.setPublicKey(publicKey);
      return function () {
        var exp = expiry();
        window.Conekta.Token.create(
          { card: { number: digits(), name: field("name"), exp_month: exp.month, exp_year: exp.year, cvc: field("cvc") } },
          function (token) { send(token.id, "", ""); },
          function (error) { fail(error.message_to_purchaser); }
        );
      };
    },
    openpay: function () {
      window.OpenPay.setId(form.getAttribute("data-merchant-id"));
      window.OpenPay.setApiKey(publicKey);
      // Openpay's antifraud: a device session id, sent with the charge.
      window.OpenPay.deviceData.setup("tarjeta", "device_session_id");
      return function () {
        var exp = expiry();
        window.OpenPay.token.create(
          { card_number: digits(), holder_name: field("name"), expiration_month: exp.month, expiration_year: exp.year, cvv2: field("cvc") },
          function (response) { send(response.data.id, response.data.card.brand, ""); },
          function (response) { fail(response.data && response.data.description); }
        );
      };
    },
    mercadopago: function () {
      var mp = new window.MercadoPago(publicKey, { locale: "es-MX" });
      return function () {
        var exp = expiry();
        mp.createCardToken({
          cardNumber: digits(), cardholderName: field("name"), cardExpirationMonth: exp.month,
          cardExpirationYear: exp.year.length === 2 ? "20" + exp.year : exp.year, securityCode: field("cvc")
        }).then(function (token) { send(token.id, "", token.last_four_digits); }, function () { fail(); });
      };
    }
  };

  window.addEventListener("load", function () {
    var setup = tokenisers[provider];
    if (!setup) { fail("Este medio de pago no está disponible."); return; }
    var tokenise;
    try { tokenise = setup(); } catch (e) { fail("No pudimos cargar el formulario de la tarjeta."); return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      errorBox.hidden = true;
      form.querySelector("button").disabled = true;
      tokenise();
    });
  });
})();
