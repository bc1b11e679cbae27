// Receiving screen: a keyboard-wedge scanner types the code and Enter into #scan. Each scan adds one unit
// to the matching line (EAN, our SKU or the supplier's SKU); an unknown code is reported and nothing is added.
(function () {
  "use strict";
  var input = document.querySelector("[data-scan]");
  var form = document.querySelector("[data-receive]");
  if (!input || !form) return;
  var status = document.getElementById("scan-status");
  var rows = Array.prototype.slice.call(form.querySelectorAll("tr[data-line-id]"));

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) { return values[key] === undefined ? "" : values[key]; });
  }
  function say(text, bad) {
    status.textContent = text;
    status.className = "small " + (bad ? "error" : "muted");
  }
  function find(code) {
    var upper = code.toUpperCase();
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i].dataset;
      if (code === r.ean || upper === r.sku) return rows[i];
    }
    for (var j = 0; j < rows.length; j++) {
      if (rows[j].dataset.supplierSku && upper === rows[j].dataset.supplierSku) return rows[j];
    }
    return null;
  }
  input.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") return;
    event.preventDefault();
    var code = input.value.trim();
    input.value = "";
    if (!code) return;
    var row = find(code);
    if (!row) {
      say(fmt(input.dataset.msgUnknown, { code: code }), true);
      return;
    }
    var qty = row.querySelector("[data-qty]");
    var value = (parseInt(qty.value, 10) || 0) + 1;
    qty.value = value;
    row.classList.add("changed");
    var sku = row.querySelector("code").textContent;
    var outstanding = parseInt(row.dataset.outstanding, 10) || 0;
    if (value > outstanding) {
      say(fmt(input.dataset.msgOver, { sku: sku, out: outstanding }), true);
    } else {
      say(fmt(input.dataset.msgAdded, { sku: sku, qty: value }), false);
    }
  });
  // The scan field belongs to the form only as a no-JavaScript fallback: do not send what is left in it.
  form.addEventListener("submit", function () { input.value = ""; });
})();
