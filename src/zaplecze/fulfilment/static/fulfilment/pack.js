// Packing screen (own code): a keyboard-wedge scanner types the code and presses Enter. Each code is sent
// in order (a queue, so fast scans are never lost or reordered); the field is emptied at once and keeps the
// focus, so no mouse is needed. Without JavaScript the form posts normally and the page reloads.
(function () {
  "use strict";
  var form = document.querySelector("[data-scan-form]");
  if (!form) { return; }
  var input = form.querySelector("[data-scan-input]");
  var queue = Promise.resolve();

  function swap(html) {
    var target = document.querySelector(form.dataset.target);
    if (!target) { return; }
    var box = document.createElement("div");
    box.innerHTML = html;
    var fresh = box.firstElementChild;
    if (!fresh) { return; }
    target.replaceWith(fresh);
    if (window.htmx) { window.htmx.process(fresh); }
  }

  function post(action, data) {
    queue = queue.then(function () {
      document.body.classList.add("scan-busy");
      return fetch(action, {
        method: "POST",
        body: data,
        headers: { "HX-Request": "true" },
        credentials: "same-origin"
      }).then(function (r) { return r.text(); })
        .then(swap)
        .catch(function () {
          swap('<div id="pack-state"><div class="scan-alert scan-warn" role="alert" data-scan-alert="warn">' +
               (form.dataset.offline || "No connection: the scan was not saved. Scan it again.") + "</div></div>");
        })
        .then(function () { document.body.classList.remove("scan-busy"); input.focus(); });
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var data = new FormData(form);
    input.value = "";
    input.focus();
    if (!String(data.get("code") || "").trim()) { return; }
    post(form.action, data);
  });

  // The undo button lives in the swapped panel.
  document.addEventListener("submit", function (e) {
    var undo = e.target.closest && e.target.closest("[data-undo-form]");
    if (!undo) { return; }
    e.preventDefault();
    post(undo.action, new FormData(undo));
  });

  // Typing anywhere outside a field goes to the scan field (a scanner's keystrokes are never lost).
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || e.key.length !== 1) { return; }
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) { return; }
    input.focus();
  });
  input.focus();
})();
