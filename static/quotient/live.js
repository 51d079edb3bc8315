/* Live pages: a page whose blocks carry `data-live` (each with an id) polls its own address
   every few seconds with If-None-Match; the server answers 304 while nothing changed
   (core/etag.py), else the page, whose blocks of the same ids replace these ones. No reload,
   no framework, no CDN. Polling pauses while the tab is hidden and while the user is typing in
   a live block; it backs off after errors. */
(function () {
  "use strict";
  var INTERVAL = 3000;
  var MAX_INTERVAL = 30000;

  function blocks(root) {
    return Array.prototype.slice.call(root.querySelectorAll("[data-live][id]"));
  }

  function start() {
    var mine = blocks(document);
    if (!mine.length) return;
    var etag = null;
    var delay = INTERVAL;
    var status = document.createElement("div");
    status.className = "sr-only";
    status.setAttribute("aria-live", "polite");
    status.setAttribute("data-live-status", "");
    document.body.appendChild(status);

    function busy() {
      var active = document.activeElement;
      return active && active.closest && active.closest("[data-live]") &&
        /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
    }

    function swap(html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var changed = 0;
      blocks(document).forEach(function (old) {
        var fresh = doc.getElementById(old.id);
        if (fresh && fresh.innerHTML !== old.innerHTML) {
          old.innerHTML = fresh.innerHTML;
          changed += 1;
        }
      });
      if (changed) {
        document.documentElement.setAttribute("data-live-updated", String(Date.now()));
        status.textContent = "Figures updated.";
        document.dispatchEvent(new CustomEvent("quotient:live-updated"));
      }
    }

    function poll() {
      if (document.hidden || busy()) return schedule();
      var headers = { "X-Quotient-Live": "1" };
      if (etag) headers["If-None-Match"] = etag;
      fetch(window.location.href, { headers: headers, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          var tag = response.headers.get("ETag");
          if (response.status === 304) {
            delay = INTERVAL;
            return null;
          }
          if (!response.ok) throw new Error("HTTP " + response.status);
          if (tag) etag = tag;
          delay = INTERVAL;
          return response.text().then(swap);
        })
        .catch(function () { delay = Math.min(delay * 2, MAX_INTERVAL); })
        .then(schedule);
    }

    function schedule() {
      window.setTimeout(poll, delay);
    }

    schedule();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
