// reCAPTCHA v3: fetch a token as the last step is sent, for the server to verify.
// Only loaded when reCAPTCHA is on. Tokens expire after two minutes, so one is fetched
// for each send rather than when the page loads.
(function () {
  "use strict";

  var ACTION = "submit";

  function withToken(form, send) {
    var siteKey = form.dataset.recaptchaSiteKey;
    var input = form.querySelector("input[name=recaptchaToken]");
    if (!siteKey || !input || !window.grecaptcha) {
      send(); // the server answers with a message the visitor can act on
      return;
    }
    window.grecaptcha.ready(function () {
      window.grecaptcha.execute(siteKey, { action: ACTION }).then(
        function (token) {
          input.value = token;
          send();
        },
        send
      );
    });
  }

  // htmx asks before each request; the form's own post waits for the token.
  document.addEventListener("htmx:confirm", function (event) {
    var form = event.detail.elt;
    if (!(form instanceof HTMLFormElement) || !form.dataset.recaptchaSiteKey) {
      return;
    }
    event.preventDefault();
    withToken(form, function () {
      event.detail.issueRequest(true);
    });
  });
})();
