// Zaplecze — small page behaviours (own code). Charts: Vega-Lite specs embedded as JSON script tags.
(function () {
  function renderCharts(root) {
    if (!window.vegaEmbed) { return; }
    root.querySelectorAll("[data-vega-spec]").forEach(function (el) {
      if (el.dataset.rendered) { return; }
      var src = document.getElementById(el.dataset.vegaSpec);
      if (!src) { return; }
      el.dataset.rendered = "1";
      window.vegaEmbed(el, JSON.parse(src.textContent), { actions: false, renderer: "svg" })
        .then(function () { el.dataset.ready = "1"; })
        .catch(function (err) { el.textContent = String(err); });
    });
  }
  function selectAll(root) {
    root.querySelectorAll("[data-select-all]").forEach(function (box) {
      box.addEventListener("change", function () {
        document.querySelectorAll(box.dataset.selectAll).forEach(function (b) { b.checked = box.checked; });
      });
    });
  }
  function init() { renderCharts(document); selectAll(document); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
  window.addEventListener("load", function () { renderCharts(document); });
  document.addEventListener("htmx:afterSwap", function (e) { renderCharts(e.target); });
})();
