// Quotient's page behaviour, loaded by templates/base.html. The Content-Security-Policy allows
// no inline event handlers, so pages declare behaviour with data attributes instead:
//   <select data-autosubmit>    sends its form when the choice changes
//   <form data-confirm="…">     asks before sending
//   <form data-busy="…">        shows an indeterminate progress bar and cannot be sent twice
//   <form data-upload>          an import upload (templates/imports/_upload.html): a progress bar
//                               while the file is sent and while its rows are checked; a form
//                               the server sends back (an error beside a field) replaces the page
//   [data-nav-toggle]           the phone's Menu button: opens and closes the navigation
//   [data-poll="url"]           a running import: polls its JSON, moves the bar, reloads when done
//   [data-tree-toggle="open|close"] [data-tree="id"]  expands or collapses every <details> of a
//                               tree (the org chart); the buttons are hidden until this script runs
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    const field = event.target;
    if (field.matches && field.matches("select[data-autosubmit]") && field.form) field.form.submit();
  });
  document.addEventListener("click", function (event) {
    const toggle = event.target.closest && event.target.closest("[data-nav-toggle]");
    if (!toggle) return;
    const open = toggle.parentElement.classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
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

  // --- imports --------------------------------------------------------------------------------
  function chosen(input) {
    const zone = input.closest(".dropzone");
    if (!zone) return;
    const name = zone.querySelector("[data-file-name]");
    const hint = zone.querySelector("[data-file-hint]");
    const file = input.files && input.files[0];
    zone.classList.toggle("chosen", !!file);
    if (name) name.textContent = file ? file.name : "Choose a CSV file";
    if (hint) hint.textContent = file ? sizeOf(file.size) + " · choose another" : "or drop it here";
  }
  function sizeOf(bytes) {
    if (bytes < 1024) return bytes + " bytes";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }
  function showColumns(select) {
    const kinds = document.querySelectorAll(".column-kind[data-kind]");
    if (kinds.length < 2) return;
    const known = Array.prototype.some.call(kinds, function (k) { return k.dataset.kind === select.value; });
    kinds.forEach(function (k) { k.hidden = known && k.dataset.kind !== select.value; });
  }
  document.querySelectorAll("form[data-upload] select[name=kind]").forEach(showColumns);
  document.addEventListener("change", function (event) {
    const field = event.target;
    if (!field.matches) return;
    if (field.matches("form[data-upload] select[name=kind]")) showColumns(field);
    if (field.matches(".dropzone input[type=file]")) chosen(field);
    if (field.matches("input[data-dry-run]") && field.form) {
      const button = field.form.querySelector("button[data-dry-label]");
      if (button) button.textContent = field.checked ? button.dataset.dryLabel : button.dataset.liveLabel;
    }
  });
  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      const zone = event.target.closest && event.target.closest(".dropzone");
      if (zone) zone.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      const zone = event.target.closest && event.target.closest(".dropzone");
      if (zone) zone.classList.remove("dragging");
    });
  });

  function replaceMain(html) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    const fresh = doc.querySelector("main.content");
    const main = document.querySelector("main.content");
    if (!fresh || !main) return false;
    main.innerHTML = fresh.innerHTML;
    if (doc.title) document.title = doc.title;
    main.querySelectorAll("form[data-upload] select[name=kind]").forEach(showColumns);
    const problem = main.querySelector("[aria-invalid=true], .errorlist, .alert.error");
    if (problem) {
      problem.scrollIntoView({ block: "center" });
      if (problem.focus) problem.focus();
    }
    return true;
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.matches || !form.matches("form[data-upload]") || !window.XMLHttpRequest) return;
    if (!form.checkValidity()) return;
    event.preventDefault();
    const box = form.querySelector(".upload-progress");
    const bar = box.querySelector(".progress");
    const fill = bar.querySelector("span");
    const text = box.querySelector("[data-upload-text]");
    const button = form.querySelector("button[type=submit]");
    box.hidden = false;
    bar.classList.remove("indeterminate");
    fill.style.width = "0%";
    text.textContent = "Uploading…";
    button.disabled = true;
    const xhr = new XMLHttpRequest();
    const target = form.action || window.location.href;
    xhr.open("POST", target);
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      const pct = Math.round((100 * e.loaded) / e.total);
      fill.style.width = pct + "%";
      text.textContent = "Uploading… " + pct + " %";
      if (e.loaded === e.total) {
        bar.classList.add("indeterminate");
        fill.style.width = "";
        text.textContent = form.dataset.busyText || "Checking rows…";
      }
    });
    xhr.addEventListener("load", function () {
      const moved = xhr.responseURL && xhr.responseURL.split("#")[0] !== new URL(target, window.location.href).href;
      if (moved) {
        window.location.href = xhr.responseURL;
        return;
      }
      // The same page again: the form with the server's errors beside its fields.
      if (!replaceMain(xhr.responseText)) {
        box.hidden = false;
        bar.classList.remove("indeterminate");
        text.textContent = "The server could not take the file (" + xhr.status + "). Try again.";
        button.disabled = false;
      }
    });
    xhr.addEventListener("error", function () {
      bar.classList.remove("indeterminate");
      fill.style.width = "0%";
      text.textContent = "The upload failed; check your connection and try again.";
      button.disabled = false;
    });
    xhr.send(new FormData(form));
  });

  function poll(box) {
    fetch(box.dataset.poll, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (b) {
        if (b.finished_at) { window.location.reload(); return; }
        const fill = box.querySelector("[data-poll-bar]");
        const text = box.querySelector("[data-poll-text]");
        if (fill && b.progress_pct) {
          fill.parentElement.classList.remove("indeterminate");
          fill.style.width = b.progress_pct + "%";
        }
        if (text && b.rows_processed) text.textContent = b.rows_processed.toLocaleString() + " rows read";
        window.setTimeout(function () { poll(box); }, 1000);
      })
      .catch(function () { window.setTimeout(function () { poll(box); }, 3000); });
  }
  document.querySelectorAll("[data-poll]").forEach(poll);
})();

// [data-run-poll="api url"]  a running calculation run (templates/dashboards/runs/_progress.html):
// polls the runs API, moves the bar and says the phase, chunks and time left; reloads when done.
(function () {
  "use strict";
  function pollRun(box) {
    fetch(box.dataset.runPoll, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (run) {
        if (run.status === "succeeded" || run.status === "failed") { window.location.reload(); return; }
        const p = run.progress || {};
        const fill = box.querySelector("[data-run-bar]");
        const text = box.querySelector("[data-run-text]");
        if (fill) {
          if (p.percent) fill.parentElement.classList.remove("indeterminate");
          fill.style.width = (p.percent || 0) + "%";
          fill.parentElement.setAttribute("aria-valuenow", String(p.percent || 0));
        }
        if (text && run.status === "running") {
          let words = p.phase_label + " · " + p.chunks_done + " of " + p.chunks_total + " chunks · " + p.percent + " %";
          if (p.eta_seconds !== null && p.eta_seconds !== undefined) words += " · about " + p.eta_seconds + " s left";
          text.textContent = words;
        }
        window.setTimeout(function () { pollRun(box); }, 1000);
      })
      .catch(function () { window.setTimeout(function () { pollRun(box); }, 3000); });
  }
  document.querySelectorAll("[data-run-poll]").forEach(pollRun);

  // --- collapsible trees (the org chart) ---------------------------------------------------
  document.querySelectorAll("[data-tree-toggle]").forEach(function (button) { button.hidden = false; });
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-tree-toggle]");
    if (!button) return;
    const tree = document.getElementById(button.dataset.tree);
    if (!tree) return;
    const open = button.dataset.treeToggle === "open";
    tree.querySelectorAll("details").forEach(function (d) { d.open = open; });
  });
})();
