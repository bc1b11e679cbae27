// Zaplecze — small page behaviours (own code). Every page works without it; this only makes it quicker.
// Charts: Vega-Lite specs embedded as JSON script tags, rendered by vega-embed.
(function () {
  "use strict";

  function renderCharts(root) {
    if (!window.vegaEmbed) { return; }
    root.querySelectorAll("[data-vega-spec]").forEach(function (el) {
      if (el.dataset.rendered) { return; }
      var src = document.getElementById(el.dataset.vegaSpec);
      if (!src) { return; }
      el.dataset.rendered = "1";
      window.vegaEmbed(el, JSON.parse(src.textContent), { actions: false, renderer: "svg" })
        .then(function () { el.dataset.ready = "1"; })
        .catch(function (err) { el.textContent = String(err); el.dataset.ready = "error"; });
    });
  }

  // --- queue: selection and bulk actions ---------------------------------------------------------
  function updateSelection() {
    var form = document.querySelector("[data-bulk-form]");
    if (!form) { return; }
    var boxes = form.querySelectorAll("input[name=ids]");
    var n = 0;
    boxes.forEach(function (b) { if (b.checked) { n += 1; } });
    var label = form.querySelector("[data-selected-count]");
    if (label) {
      if (!label.dataset.original) { label.dataset.original = label.textContent; }
      label.textContent = n ? label.dataset.template.replace("__n__", String(n)) : label.dataset.original;
      label.classList.toggle("muted", !n);
      label.classList.toggle("strong", !!n);
    }
    form.querySelectorAll("[data-needs-selection]").forEach(function (btn) { btn.disabled = !n; });
    var all = form.querySelector("[data-select-all]");
    if (all) {
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
  }

  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.matches && t.matches("[data-select-all]")) {
      document.querySelectorAll(t.dataset.selectAll).forEach(function (b) { b.checked = t.checked; });
      updateSelection();
    } else if (t.matches && t.matches("[data-bulk-form] input[name=ids]")) {
      updateSelection();
    } else if (t.matches && t.matches("input[name=billing_same]")) {
      toggleBilling();
    } else if (t.matches && t.matches("[data-line-sku]")) {
      suggestPrice(t);
    }
  });

  // --- manual order form --------------------------------------------------------------------------
  function toggleBilling() {
    var same = document.querySelector("input[name=billing_same]");
    var block = document.querySelector("[data-billing]");
    if (same && block) { block.hidden = same.checked; }
  }

  function suggestPrice(skuInput) {
    var row = skuInput.closest("tr");
    var price = row && row.querySelector("[data-line-price]");
    if (!price) { return; }
    var option = null;
    document.querySelectorAll("#variants option").forEach(function (o) { if (o.value === skuInput.value) { option = o; } });
    price.placeholder = option ? option.dataset.price : "";
  }

  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-add-line]");
    if (!btn) { return; }
    var form = btn.closest("form");
    var total = form.querySelector("input[name$=TOTAL_FORMS]");
    var tpl = document.getElementById("line-template");
    if (!total || !tpl) { return; }
    var index = parseInt(total.value, 10);
    var html = tpl.innerHTML.replace(/__prefix__/g, String(index));
    form.querySelector("[data-lines]").insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    var rows = form.querySelectorAll("[data-lines] tr");
    var first = rows[rows.length - 1].querySelector("input");
    if (first) { first.focus(); }
  });

  function init(root) {
    renderCharts(root);
    updateSelection();
    toggleBilling();
    document.querySelectorAll("[data-line-sku]").forEach(function (el) { if (el.value) { suggestPrice(el); } });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
  window.addEventListener("load", function () { renderCharts(document); });
  document.addEventListener("htmx:afterSwap", function (e) { renderCharts(e.target); updateSelection(); });
})();

// Forms that do something not easily undone ask first (data-confirm="question").
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
