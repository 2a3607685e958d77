// The Model drift panel: how far what the served severity model sees has moved from what it was trained on.
//
// Numbers come from GET /api/drift (dashboard_server/drift.py), the newest reports the ml_drift_watch DAG stored
// (ml/drift_watch.py; what each score means is said in ml/drift.py): the newest report's status, its largest
// population stability index (PSI) and on which feature, one row per feature (PSI, Jensen-Shannon distance, the
// biggest share changes of readable features and the values never seen in training), and the trend of the largest
// PSI over the recent checks.  Features at or over the threshold are marked.  The panel is the same for every
// project (one model serves them all); it is asked again every minute and reads app.js's globals (state, api)
// without changing them.
"use strict";

(() => {
  const REFRESH_MS = 60000;
  const view = document.querySelector("#drift-view");
  const head = document.querySelector("#drift-head");
  const table = document.querySelector("#drift");
  const trend = document.querySelector("#drift-trend");
  let timer = null;

  const LABELS = {
    analyzer: "Analyser", rule: "Rule", file_type: "File type", text_tokens: "Message words (hashed)",
    text_length: "Message length (words)", predicted_severity: "Predicted severity", confidence: "Confidence",
  };
  const STATUS = { ok: "no drift", drift: "DRIFT", insufficient_data: "too few predictions to judge" };

  function cell(tag, text, title) {
    const c = document.createElement(tag);
    c.textContent = text;
    if (title) c.title = title;
    return c;
  }
  function percent(share) { return `${Math.round(share * 1000) / 10}%`; }

  function changes(f) {
    const moved = (f.changes || []).slice(0, 3).map((c) => `${c.bin}: ${percent(c.reference)} → ${percent(c.observed)}`);
    const unseen = (f.new_values || []).map((v) => `${v.value} ${percent(v.observed)}`);
    return moved.join(", ") + (unseen.length ? `; never in training: ${unseen.join(", ")}` : "");
  }

  function render(body) {
    const r = body.latest;
    view.hidden = false;
    table.innerHTML = "";
    trend.textContent = "";
    if (!r) {
      head.textContent = `${body.model_name}: no drift check yet (the ml_drift_watch DAG runs hourly).`;
      view.dataset.status = "none";
      return;
    }
    view.dataset.status = r.status;
    head.textContent = `${r.model_name} v${r.model_version}: ${STATUS[r.status] || r.status} — largest PSI ` +
      `${r.max_psi === null ? "–" : r.max_psi.toFixed(3)} on ${LABELS[r.worst_feature] || r.worst_feature || "–"} ` +
      `(threshold ${r.threshold}), ${r.predictions} predictions in the last ${r.window_hours} h, ` +
      `checked ${new Date(r.computed_at).toLocaleString()}`;
    head.className = r.status === "drift" ? "error" : "muted";
    const thead = document.createElement("thead"), tr = document.createElement("tr");
    for (const [text, title] of [["Feature", ""], ["PSI", "population stability index against the training reference"],
      ["JS", "Jensen-Shannon distance (0 same, 1 disjoint)"], ["Biggest changes", "reference share → served share"]]) {
      tr.append(cell("th", text, title));
    }
    thead.append(tr);
    const tbody = document.createElement("tbody");
    // in ml/drift.py's order (the stored JSON may come back with its keys reordered), unknown features last
    const order = Object.keys(LABELS).filter((k) => k in r.features)
      .concat(Object.keys(r.features).filter((k) => !(k in LABELS)));
    for (const feature of order) {
      const f = r.features[feature];
      const row = document.createElement("tr");
      row.dataset.feature = feature;
      const over = f.psi !== null && f.psi >= r.threshold;
      row.append(cell("td", LABELS[feature] || feature), cell("td", f.psi === null ? "–" : f.psi.toFixed(3)),
        cell("td", f.js === null ? "–" : f.js.toFixed(3)), cell("td", changes(f)));
      if (over) { row.className = "error"; row.dataset.drifted = "true"; }
      tbody.append(row);
    }
    table.append(thead, tbody);
    // oldest → newest, as a line of numbers: enough to see whether it is rising
    const points = body.reports.slice().reverse().filter((x) => x.max_psi !== null);
    if (points.length > 1) trend.textContent = "Largest PSI, recent checks: " + points.map((x) => x.max_psi.toFixed(2)).join(" → ");
  }

  async function load() {
    if (!state.token) return;
    try {
      render(await api("/api/drift"));
    } catch (err) {
      // The runs view says when the database is out; the minute's refresh asks again.
    }
  }

  function soon(delay) { clearTimeout(timer); timer = setTimeout(load, delay); }

  // Shown once app.js has signed in and picked a project (the main view is visible then).
  let shown = false;
  setInterval(() => {
    const ready = Boolean(state.token && state.project);
    if (ready && !shown) soon(0);
    shown = ready;
    if (!ready) view.hidden = true;
  }, 300);
  setInterval(() => { if (shown) soon(0); }, REFRESH_MS);
})();
