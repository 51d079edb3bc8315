// Quotient's page behaviour, loaded by templates/base.html. The Content-Security-Policy allows
// no inline event handlers, so pages declare behaviour with data attributes instead:
//   <select data-autosubmit>    sends its form when the choice changes
//   <form data-confirm="…">     asks before sending
//   <form data-busy="…">        shows an indeterminate progress bar and cannot be sent twice
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    const field = event.target;
    if (field.matches && field.matches("select[data-autosubmit]") && field.form) field.form.submit();
  });
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.dataset) return;
    if (form.dataset.confirm !== undefined && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (form.dataset.busy === undefined || event.defaultPrevented) return;
    form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) { b.disabled = true; });
    const note = document.createElement("div");
    note.className = "busy";
    note.setAttribute("role", "status");
    const bar = document.createElement("div");
    bar.className = "progress indeterminate";
    bar.appendChild(document.createElement("span"));
    const label = document.createElement("span");
    label.className = "muted";
    label.textContent = form.dataset.busy || "Working…";
    note.append(bar, label);
    form.appendChild(note);
  });
})();
