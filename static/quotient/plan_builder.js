// The plan builder's live parts (templates/plans/plan_version.html). Nothing is computed here:
// every change of the plan text, a tier or curve cell, or the sample inputs is sent to the
// page's preview URL, which asks the engine and answers with the problems (each at its line),
// the editable tables, the payout curve (a plotly figure from core/figures.py) and the "try it"
// lines and trace sentences. A table edit comes back as new plan text, so the text stays the
// one thing that is saved. The Content-Security-Policy allows no inline handlers: listeners only.
(function () {
  "use strict";
  // The assign form: show only the holder field of the kind chosen (node, job role, person).
  const kind = document.getElementById("id_holder_kind");
  if (kind) {
    const show = function () {
      document.querySelectorAll("[data-holder]").forEach(function (box) {
        box.hidden = box.dataset.holder !== kind.value;
      });
    };
    kind.addEventListener("change", show);
    show();
  }
  const root = document.getElementById("builder");
  if (!root) return;
  const url = root.dataset.previewUrl;
  const source = document.getElementById("plan-source");
  const sample = document.getElementById("sample-source");
  const select = document.getElementById("component-select");
  const chart = document.getElementById("chart");
  const tables = document.getElementById("tables");
  const csrf = document.querySelector("#version-form input[name=csrfmiddlewaretoken]");
  let timer = null;
  let seq = 0;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function (kv) { node.setAttribute(kv[0], kv[1]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function schedule(patch) {
    clearTimeout(timer);
    timer = setTimeout(function () { send(patch); }, patch ? 250 : 400);
  }

  // An indeterminate bar in each card whose content comes from the answer, shown from the
  // page's first request until the answer (and again while a change is being asked about).
  function loading(on) {
    document.querySelectorAll("[data-builder-loading]").forEach(function (bar) { bar.hidden = !on; });
    root.setAttribute("aria-busy", on ? "true" : "false");
  }

  function send(patch) {
    const mine = ++seq;
    loading(true);
    const body = { source: source.value, sample: sample.value, component: select.value || "" };
    if (patch) body.patch = patch;
    fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.value : "" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    })
      .then(function (r) { return r.json(); })
      .then(function (data) { if (mine === seq) { loading(false); render(data, !!patch); } })
      .catch(function () { if (mine === seq) loading(false); /* offline or signed out: keep the last view */ });
  }

  function render(data, fromTable) {
    if (data.patched && data.source !== source.value) source.value = data.source;
    const patchError = document.getElementById("patch-error");
    patchError.hidden = !data.patch_error;
    patchError.textContent = data.patch_error || "";
    renderProblems(data.problems || []);
    if (!(data.problems || []).length) {
      renderComponents(data.components || [], data.chart);
      if (!fromTable || !tables.contains(document.activeElement)) renderTables(data.tables || []);
      renderChart(data.chart);
      renderTry(data.tryit);
    }
  }

  function renderProblems(problems) {
    const list = document.getElementById("problems");
    list.replaceChildren();
    problems.forEach(function (p) {
      const li = el("li");
      if (p.line) {
        const a = el("a", { href: "#plan-source", "data-line": p.line }, "line " + p.line);
        li.append(a, ": ");
      }
      if (p.path) li.append(el("code", {}, p.path), " ");
      li.append(p.message);
      list.appendChild(li);
    });
    document.getElementById("problems-ok").hidden = problems.length > 0;
    source.setAttribute("aria-invalid", problems.length ? "true" : "false");
  }

  function renderComponents(components, chartData) {
    const current = (chartData && chartData.component) || select.value;
    select.replaceChildren();
    components.forEach(function (c) {
      const option = el("option", { value: c.id }, c.title + " (" + c.type + ")");
      if (c.id === current) option.selected = true;
      select.appendChild(option);
    });
  }

  function renderTables(list) {
    tables.replaceChildren();
    document.getElementById("tables-empty").hidden = list.length > 0;
    list.forEach(function (t, ti) {
      const block = el("div", { class: "table-block", "data-path": t.path, "data-kind": t.kind });
      block.appendChild(el("h3", { style: "font-size:14px;margin:0 0 6px" }, t.label));
      const table = el("table", { class: "data edit" });
      const head = el("tr");
      t.fields.forEach(function (f) { head.appendChild(el("th", {}, f)); });
      head.appendChild(el("th"));
      table.appendChild(el("thead")).appendChild(head);
      const tbody = table.appendChild(el("tbody"));
      t.rows.forEach(function (row, ri) {
        const tr = el("tr");
        t.fields.forEach(function (f) {
          const input = el("input", {
            type: "text", inputmode: "decimal", value: row[f],
            "data-field": f, "aria-label": t.label + " row " + (ri + 1) + " " + f,
            name: "t" + ti + "-" + ri + "-" + f,
          });
          tr.appendChild(el("td")).appendChild(input);
        });
        const remove = el("button", { type: "button", class: "btn small", "data-remove": "1",
                                      "aria-label": "Remove row " + (ri + 1) }, "×");
        tr.appendChild(el("td")).appendChild(remove);
        tbody.appendChild(tr);
      });
      block.appendChild(table);
      block.appendChild(el("button", { type: "button", class: "btn small", "data-add": "1" },
                           "Add a row"));
      tables.appendChild(block);
    });
  }

  function rowsOf(block) {
    return Array.from(block.querySelectorAll("tbody tr")).map(function (tr) {
      const row = {};
      tr.querySelectorAll("input[data-field]").forEach(function (i) { row[i.dataset.field] = i.value; });
      return row;
    });
  }

  function patchFrom(block, rows) {
    return { path: block.dataset.path, kind: block.dataset.kind, rows: rows || rowsOf(block) };
  }

  function renderChart(c) {
    const note = document.getElementById("chart-note");
    note.textContent = c ? (c.error || c.note || "") : "";
    if (!c || !c.figure || !window.Plotly) {
      if (window.Plotly) window.Plotly.purge(chart);
      return;
    }
    window.Plotly.react(chart, c.figure.data, c.figure.layout, { displayModeBar: false, responsive: true });
    chart.dataset.draws = String(Number(chart.dataset.draws || 0) + 1);
  }

  function renderTry(t) {
    const error = document.getElementById("try-error");
    const body = document.querySelector("#try-lines tbody");
    const traces = document.getElementById("try-traces");
    body.replaceChildren();
    traces.replaceChildren();
    error.hidden = !(t && t.error);
    error.textContent = (t && t.error) || "";
    if (!t) return;
    t.lines.forEach(function (l) {
      const tr = el("tr");
      tr.append(el("td", { "data-label": "Person" }, l.person),
                el("td", { "data-label": "Component" }, l.title + (l.kind !== "earned" ? " (" + l.kind.replace(/_/g, " ") + ")" : "")),
                el("td", { class: "num nowrap", "data-label": "Amount" }, l.amount_text),
                el("td", { class: "num nowrap", "data-label": "Attainment" }, l.attainment === null ? "—" : (Number(l.attainment) * 100).toFixed(1) + "\u00a0%"));
      body.appendChild(tr);
    });
    t.traces.forEach(function (tr) { traces.appendChild(el("li", {}, tr.person + " · " + tr.title + ": " + tr.text)); });
  }

  // "Save as test case": the sample as it is now goes with the form (the page prefills the
  // case with what the saved plan pays on it).
  const caseForm = document.getElementById("tryit-case-form");
  if (caseForm) {
    caseForm.addEventListener("submit", function () {
      document.getElementById("tryit-case-inputs").value = sample.value;
    });
  }
  source.addEventListener("input", function () { schedule(null); });
  sample.addEventListener("input", function () { schedule(null); });
  select.addEventListener("change", function () { send(null); });
  tables.addEventListener("input", function (event) {
    const block = event.target.closest(".table-block");
    if (block) schedule(patchFrom(block));
  });
  tables.addEventListener("click", function (event) {
    const block = event.target.closest(".table-block");
    if (!block) return;
    const rows = rowsOf(block);
    if (event.target.dataset.add) {
      const last = rows[rows.length - 1] || {};
      const added = {};
      Object.keys(last).forEach(function (k) { added[k] = last[k]; });
      if ("from" in added) { added.from = last.to || last.from; last.to = added.from; added.to = ""; }
      rows.push(added);
    } else if (event.target.dataset.remove) {
      const index = Array.from(block.querySelectorAll("tbody tr")).indexOf(event.target.closest("tr"));
      rows.splice(index, 1);
    } else {
      return;
    }
    clearTimeout(timer);
    tables.replaceChildren();  // redrawn from the answer
    send(patchFrom(block, rows));
  });
  document.getElementById("problems").addEventListener("click", function (event) {
    const line = event.target.dataset && event.target.dataset.line;
    if (!line) return;
    event.preventDefault();
    const lines = source.value.split("\n");
    const start = lines.slice(0, Number(line) - 1).join("\n").length + (Number(line) > 1 ? 1 : 0);
    source.focus();
    source.setSelectionRange(start, start + (lines[Number(line) - 1] || "").length);
  });
  send(null);
})();
