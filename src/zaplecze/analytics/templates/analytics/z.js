/* Zaplecze traffic analytics: no cookies, no storage, no third-party requests. */
(function (w, d) {
  "use strict";
  var s = d.currentScript;
  if (!s) return;
  var endpoint = s.getAttribute("data-api") || "{{ collect_url|escapejs }}";
  var site = s.getAttribute("data-site") || w.location.hostname;
  function id() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID().replace(/-/g, "");
    var out = "";
    for (var i = 0; i < 32; i++) out += Math.floor(Math.random() * 16).toString(16);
    return out;
  }
  function send(event, data, tries) {
    var body = JSON.stringify(event);
    if (w.fetch) {
      w.fetch(endpoint, { method: "POST", body: body, keepalive: true, credentials: "omit",
                          headers: { "Content-Type": "text/plain" } })
        .then(function (r) { if (r.status >= 500 && tries < 3) setTimeout(function () { send(event, data, tries + 1); }, 1000 * tries); })
        .catch(function () { if (tries < 3) setTimeout(function () { send(event, data, tries + 1); }, 1000 * tries); });
    } else if (w.navigator.sendBeacon) {
      w.navigator.sendBeacon(endpoint, body);
    }
  }
  function track(name, data) {
    data = data || {};
    var e = { event: name || "pageview", site: site, url: w.location.href, referrer: d.referrer || "", id: id() };
    ["sku", "order", "value", "currency", "name", "props"].forEach(function (k) { if (data[k] !== undefined) e[k] = data[k]; });
    send(e, data, 1);
  }
  var queued = (w.zaplecze && w.zaplecze.q) || [];
  w.zaplecze = track;
  queued.forEach(function (args) { track.apply(null, args); });
  if (s.getAttribute("data-manual") === null) track("pageview");
  var push = w.history && w.history.pushState;
  if (push && s.getAttribute("data-spa") !== null) {
    w.history.pushState = function () { push.apply(this, arguments); track("pageview"); };
    w.addEventListener("popstate", function () { track("pageview"); });
  }
})(window, document);
