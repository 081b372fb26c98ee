// CUS: optional enhancements; every form works without this script.
(function () {
  "use strict";
  var start = function () {
    // An error summary takes the focus, so a screen reader reads it first and the links in
    // it lead to the fields.
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }

    var region = document.getElementById("region");
    var comuna = document.getElementById("comuna");
    if (region && comuna) {
      var filter = function () {
        var groups = comuna.querySelectorAll("optgroup");
        for (var i = 0; i < groups.length; i++) {
          var show = !region.value || groups[i].getAttribute("data-region") === region.value;
          groups[i].hidden = !show;
          groups[i].disabled = !show;
        }
        var selected = comuna.options[comuna.selectedIndex];
        if (selected && selected.parentNode.disabled) { comuna.value = ""; }
      };
      region.addEventListener("change", filter);
      filter();
    }
    var sin = document.getElementById("sin_celular");
    var celular = document.getElementById("celular");
    if (sin && celular) {
      var toggle = function () { celular.disabled = sin.checked; if (sin.checked) { celular.value = ""; } };
      sin.addEventListener("change", toggle);
      toggle();
    }

    // "Refrescar": a new captcha in place, not a form submission, so Enter in any
    // field still does the form's main action and nothing typed is lost.
    var refresh = document.querySelector("[data-captcha-refresh]");
    if (refresh && window.fetch) {
      var id = document.querySelector("[data-captcha-id]");
      var image = document.querySelector("[data-captcha-image]");
      var audio = document.querySelector("[data-captcha-audio]");
      var status = document.querySelector("[data-captcha-status]");
      var answer = document.getElementById("captcha");
      refresh.hidden = false;
      refresh.addEventListener("click", function () {
        fetch("/captcha/nuevo?id=" + encodeURIComponent(id.value), { credentials: "same-origin" })
          .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
          .then(function (c) {
            id.value = c.id;
            image.src = c.image;
            audio.href = c.audio;
            answer.value = "";
            status.textContent = "Se cargó un nuevo código.";
            answer.focus();
          })
          .catch(function () { status.textContent = "No se pudo cargar un nuevo código. Intente de nuevo."; });
      });
    }
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
