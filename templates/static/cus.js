// CUS: optional enhancements; every form works without this script.
(function () {
  "use strict";
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
})();
