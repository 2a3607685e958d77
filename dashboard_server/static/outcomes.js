// The Workflows table: per workflow of the shown project its runs, success rate, p50/p95 duration, findings per
// run and the shares of findings reviewers marked helpful or false positive (explicit feedback only); a workflow's
// "by version" button opens one row per version that ran.
//
// Numbers come from GET /api/outcomes, the read model (include/workflows/outcomes.py) the platform API's
// /projects/{project}/outcomes serves too; what each one means is said there.  The table follows app.js's
// project and its time filter, and is asked again when a DAG-run event of the project arrives on app.js's socket
// (debounced: a burst of runs costs one request) and every minute (feedback arrives without events).  It reads
// app.js's globals (state, api, formatDuration) and changes none of them.
"use strict";

(() => {
  const REFRESH_MS = 60000;
  const DEBOUNCE_MS = 2000;
  const view = document.querySelector("#outcomes-view");
  const table = document.querySelector("#outcomes");
  const sinceFilter = document.querySelector("#filter-since");
  view.style.overflowX = "auto";  // seven columns scroll inside their box at a phone's width, not the page
  let shownProject = null, hookedSocket = null, timer = null;
  const expanded = new Set();  // workflows whose version rows are open (kept across refreshes)

  function percent(share) { return share === null || share === undefined ? "–" : `${Math.round(share * 1000) / 10}%`; }
  function seconds(s) { return s === null || s === undefined ? "–" : formatDuration(s); }

  function td(label, field, text, note, title) {
    const cell = document.createElement("td");
    cell.dataset.label = label; cell.dataset.field = field;
    cell.append(document.createTextNode(text));
    if (note) { const m = document.createElement("span"); m.className = "muted"; m.textContent = " " + note; cell.append(m); }
    if (title) cell.title = title;
    return cell;
  }

  function header() {
    const thead = document.createElement("thead"), tr = document.createElement("tr");
    for (const [text, title] of [
      ["Workflow", ""], ["Runs", "DAG runs in the time shown (in progress in brackets)"],
      ["Success", "Succeeded runs of the finished ones"], ["Duration p50 / p95", "Finished runs"],
      ["Findings / run", "Findings the finished runs' reviews stored, per finished run"],
      ["Helpful", "Findings whose latest explicit feedback is helpful or good catch, of those with explicit feedback"],
      ["False positive", "Findings whose latest explicit feedback is false positive, of those with explicit feedback"],
    ]) { const th = document.createElement("th"); th.textContent = text; if (title) th.title = title; tr.append(th); }
    thead.append(tr);
    return thead;
  }

  // The numbers of one slice (a workflow in all, or one of its versions), after its first cell.
  function cells(t) {
    const f = t.feedback, finished = t.succeeded + t.failed;
    return [
      td("Runs", "runs", String(t.runs), t.in_progress ? `(${t.in_progress} in progress)` : ""),
      td("Success", "success_rate", percent(t.success_rate), finished ? `${t.succeeded}/${finished}` : ""),
      td("Duration p50 / p95", "duration", `${seconds(t.duration_seconds.p50)} / ${seconds(t.duration_seconds.p95)}`,
        "", t.duration_seconds.max !== null ? "longest " + formatDuration(t.duration_seconds.max) : ""),
      td("Findings / run", "findings_per_run", t.findings_per_run === null ? "–" : String(t.findings_per_run),
        "", `${t.findings} findings in ${t.reviewed_runs} reviewed runs`),
      td("Helpful", "helpful_share", percent(f.helpful_share), f.findings_with_feedback ? `of ${f.findings_with_feedback}` : ""),
      td("False positive", "false_positive_share", percent(f.false_positive_share),
        f.findings_with_feedback ? `of ${f.findings_with_feedback}` : ""),
    ];
  }

  function rows(w) {
    const tr = document.createElement("tr");
    tr.dataset.workflow = w.workflow;
    const name = td("Workflow", "name", w.name, `v${w.current_version}`);
    name.querySelector(".muted").classList.add("version");
    const versionRows = w.versions.map((v) => {
      const vr = document.createElement("tr");
      vr.className = "version-row"; vr.dataset.workflow = w.workflow; vr.dataset.version = v.version === null ? "" : v.version;
      const saved = v.saved_at ? "saved " + new Date(v.saved_at).toLocaleString() : "";
      vr.append(td("Workflow", "name", v.version === null ? "version unknown" : `v${v.version}`, saved), ...cells(v));
      vr.firstChild.style.paddingLeft = "1.5rem";  // under its workflow
      vr.hidden = !expanded.has(w.workflow);
      return vr;
    });
    if (versionRows.length) {
      const toggle = document.createElement("button");
      toggle.type = "button"; toggle.className = "versions-toggle"; toggle.dataset.versions = w.workflow;
      const label = () => `${expanded.has(w.workflow) ? "hide" : "by"} version (${versionRows.length})`;
      toggle.textContent = label();
      toggle.addEventListener("click", () => {
        if (expanded.has(w.workflow)) expanded.delete(w.workflow); else expanded.add(w.workflow);
        for (const vr of versionRows) vr.hidden = !expanded.has(w.workflow);
        toggle.textContent = label();
      });
      name.append(document.createElement("br"), toggle);
    }
    tr.append(name, ...cells(w.total));
    return [tr, ...versionRows];
  }

  function render(body) {
    table.innerHTML = "";
    table.append(header());
    const tbody = document.createElement("tbody");
    for (const w of body.workflows) tbody.append(...rows(w));
    if (!body.workflows.length) {
      const tr = document.createElement("tr"), cell = document.createElement("td");
      cell.colSpan = 7; cell.className = "muted"; cell.textContent = "No workflows in this project yet.";
      tr.append(cell); tbody.append(tr);
    }
    table.append(tbody);
  }

  async function load() {
    const project = state.project;
    if (!project || !state.token) return;
    const params = new URLSearchParams({ project });
    const since = Number(sinceFilter.value);
    // Whole minutes: pages with the same filter then share the sidecar's answer (dashboard_server/outcomes.py).
    if (since) params.set("since", new Date(Math.floor((Date.now() - since * 1000) / 60000) * 60000).toISOString());
    try {
      const body = await api("/api/outcomes?" + params);
      if (project === state.project) render(body);
    } catch (err) {
      // The runs view says when the database is out; the next event or the minute's refresh asks again.
    }
  }

  function soon(delay) { clearTimeout(timer); timer = setTimeout(load, delay); }

  // app.js creates its socket and switches projects on its own schedule: follow both without touching it.
  setInterval(() => {
    if (state.socket && state.socket !== hookedSocket) {
      hookedSocket = state.socket;
      hookedSocket.on("event", (ev) => { if (ev.event_type === "dag_run" && ev.project === state.project) soon(DEBOUNCE_MS); });
    }
    if (state.project !== shownProject) {
      shownProject = state.project;
      view.hidden = !shownProject;
      table.innerHTML = "";
      if (shownProject) soon(0);
    }
  }, 300);
  setInterval(() => { if (shownProject) soon(0); }, REFRESH_MS);
  sinceFilter.addEventListener("change", () => soon(0));
})();
