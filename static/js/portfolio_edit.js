// Requirement form: picking a mineral fills in its current annual quantity and unit (or, for a
// mineral not yet required, its canonical unit). The server does the same for ?mineral=<slug>;
// a change of more than 10x is confirmed server-side, whatever this script does.
(function () {
  "use strict";
  var data = document.getElementById("requirement-defaults");
  var form = document.querySelector("form[data-requirement-form]");
  var mineral = form && form.querySelector("[name=mineral]");
  if (!data || !mineral) return;
  var defaults = JSON.parse(data.textContent);
  function fill() {
    var values = defaults[mineral.value];
    if (!values) return;
    var quantity = form.querySelector("[name=annual_quantity]");
    var unit = form.querySelector("[name=unit]");
    if (quantity) quantity.value = values.annual_quantity === null ? "" : values.annual_quantity;
    if (unit) unit.value = values.unit;
  }
  mineral.addEventListener("change", fill);
  var quantity = form.querySelector("[name=annual_quantity]");
  if (quantity && quantity.value === "") fill();
})();
