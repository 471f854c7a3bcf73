// Small portal behaviours that need script (served from /static: the CSP allows no inline
// script). Event delegation, so content swapped in by htmx works too.
(function () {
  "use strict";

  function copyFrom(button) {
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) return;
    var text = field.value || field.textContent || "";
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copiado";
      setTimeout(function () { button.textContent = label; }, 1500);
      // One polite announcement for screen readers (the button's own text is not read).
      var status = document.querySelector("[data-copy-status]");
      if (status) { status.textContent = (button.getAttribute("aria-label") || "Copiar").replace(/^Copiar/, "Copiaste") + ": " + text; }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { field.select(); });
    } else {
      field.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* selected: copy by hand */ }
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var copy = target.closest("[data-copy]");
    if (copy) { copyFrom(copy); return; }
    if (target.closest("[data-print]")) { window.print(); }
  });

  document.addEventListener("focusin", function (event) {
    var target = event.target;
    if (target instanceof HTMLInputElement && target.classList.contains("copyable")) {
      target.select();
    }
  });
})();
