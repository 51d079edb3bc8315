// Draws every plotly figure a page declares: <div data-figure="ID"> with the figure (from
// core/figures.py) in <script type="application/json" id="ID"> (Django's json_script), so the
// Content-Security-Policy needs no inline script. plotly.js is served locally (no CDN).
(function () {
  "use strict";
  function draw() {
    if (!window.Plotly) return;
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      const source = document.getElementById(el.dataset.figure);
      if (!source) return;
      const figure = JSON.parse(source.textContent);
      window.Plotly.react(el, figure.data, figure.layout, { displayModeBar: false, responsive: true });
      el.dataset.drawn = "true";
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
