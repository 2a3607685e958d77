// AutoPR live dashboard: the review view (dashboard_server/reviews.py serves its data).
//
// Per project: pull requests with their latest review (score, gate, counts by severity, links to the pull
// request and the Airflow run); one review's findings with what the analyser and the model said, the ones the
// confidence threshold hid shown as such, and feedback buttons; two plots (quality score per repository over
// time, feedback per rule) drawn here as inline SVG.
//
// Live: app.js hands every event it applies to this file as an "autopr:event" CustomEvent and every project
// it opens as "autopr:project".  A workflow's review is stored by its review task before that task's terminal
// event, so such an event of the project means "ask the list again" (debounced); reviews posted by external
// tools have no run, so the list is also asked again now and then while the page is visible.
//
// Feedback: each drawn button carries a key made when it is drawn; a press sends it, and so do that press's
// retries and a second press of the same button before the answer redraws it (a double click), so however
// often the request arrives the sidecar stores it once (POST /api/reviews/feedback).  The answer redraws the
// buttons with new keys: a later change of mind is a new row, as feedback is append-only.
//
// Uses app.js's globals (state, api, link, chip, cell, notify, $); everything of its own stays inside this function.
(() => {
  "use strict";

  const KINDS = [["helpful", "Helpful"], ["not_helpful", "Not helpful"], ["false_positive", "False positive"]];
  const SEVERITIES = ["critical", "high", "medium", "low", "info"];
  const REFRESH_EVERY_MS = 1000;   // at most one refresh of the list per this, however many events come
  const TRENDS_EVERY_MS = 10000;   // the plots' queries read a month of reviews: asked less often
  const POLL_MS = 30000;
  const PALETTE = ["#1565c0", "#2e7d32", "#c62828", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457"];
  const KIND_COLOURS = { helpful: "#2e7d32", not_helpful: "#9e9e9e", false_positive: "#c62828", wrong_severity: "#ef6c00" };
  const KIND_NAMES = { helpful: "helpful", not_helpful: "not helpful", false_positive: "false positive", wrong_severity: "wrong severity" };
  const TERMINAL = new Set(["success", "failed", "up_for_retry", "upstream_failed", "skipped"]);
  const SVG = "http://www.w3.org/2000/svg";

  const view = {
    project: null,
    pulls: new Map(),      // review id -> latest review of a pull request
    nextBefore: null,
    openId: null,          // the review whose findings are shown
    findings: new Map(),   // issue id -> finding of the open review
    roles: null,           // project slug -> role (who may give feedback)
    timer: null,           // a refresh is due (see refreshSoon)
    trends: null,          // the plots' data, kept to redraw them at a new width
    sending: 0,            // feedback requests in flight (the open review is not redrawn under them)
  };

  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };

  function clickKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);  // crypto.randomUUID needs a secure context; this works on plain http too
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function reviewsStatus(text) { $("#reviews-status").textContent = text || ""; }

  // ------------------------------------------------------------------ loading

  async function loadPulls(older) {
    const project = view.project;
    const params = new URLSearchParams({ project, limit: "25" });
    if (older && view.nextBefore) params.set("before", view.nextBefore);
    let body;
    try { body = await api("/api/reviews?" + params); } catch (err) { reviewsStatus(err.message); return; }
    if (project !== view.project) return;
    reviewsStatus("");
    if (!older) view.pulls.clear();
    for (const pr of body.pull_requests) view.pulls.set(pr.id, pr);
    view.nextBefore = body.next_before;
    $("#older-reviews").hidden = body.next_before === null;
    renderPulls();
  }

  async function loadTrends() {
    const project = view.project;
    let body;
    try { body = await api("/api/reviews/trends?" + new URLSearchParams({ project, days: "30" })); } catch (err) { return; }
    if (project !== view.project) return;
    view.trends = body;
    drawTrends();
  }

  function drawTrends() {
    if (!view.trends) return;
    drawQuality(view.trends.quality);
    drawRules(view.trends.rules);
  }

  // Plots are drawn at their box's width in pixels (text keeps its size), and again when the window resizes.
  function plotWidth(box) { return Math.max(240, Math.floor(box.clientWidth || 320)); }

  async function openReview(id, again = false) {
    const project = view.project;
    let body;
    try { body = await api(`/api/reviews/${id}?` + new URLSearchParams({ project })); } catch (err) { reviewsStatus(err.message); return; }
    if (project !== view.project || (again && (view.openId !== id || view.sending))) return;  // closed, or a press in flight
    view.openId = id;
    view.findings = new Map(body.review.findings.map((f) => [f.id, f]));
    renderDetail(body.review);
    renderPulls();
  }

  async function loadRoles() {
    try { const { projects } = await api("/api/projects"); view.roles = new Map(projects.map((p) => [p.slug, p.role])); } catch (err) { view.roles = null; }
  }

  function canGiveFeedback() {
    const role = view.roles && view.roles.get(view.project);
    return role !== "viewer";  // the sidecar decides (editor or above, as the platform API); this only greys out
  }

  // Refresh what may have changed: the list, the open review's findings (feedback given elsewhere) and, less
  // often, the plots.  Throttled, not debounced: a project whose events never pause is still refreshed.
  let trendsAt = 0;
  function refreshSoon() {
    if (view.timer !== null) return;
    view.timer = setTimeout(() => {
      view.timer = null;
      if (!view.project) return;
      loadPulls(false);
      if (view.openId !== null && !view.sending) openReview(view.openId, true);
      if (Date.now() - trendsAt >= TRENDS_EVERY_MS) { trendsAt = Date.now(); loadTrends(); }
    }, REFRESH_EVERY_MS);
  }

  // ------------------------------------------------------------------ the pull requests

  function severityCounts(bySeverity) {
    const wrap = el("span", "sev-counts");
    for (const s of SEVERITIES) {
      const n = bySeverity[s] || 0;
      if (!n) continue;
      const c = el("span", "sev sev-" + s, `${n} ${s}`); c.dataset.severity = s; c.dataset.count = n; wrap.append(c);
    }
    if (!wrap.childElementCount) wrap.append(el("span", "muted", "no findings"));
    return wrap;
  }

  function gate(passed) {
    const g = el("span", "gate " + (passed === true ? "pass" : passed === false ? "fail" : "none"),
      passed === true ? "pass" : passed === false ? "fail" : "—");
    g.dataset.gate = passed === true ? "pass" : passed === false ? "fail" : "none";
    return g;
  }

  function prTitle(pr) {
    const name = pr.pr_number ? `${pr.repository}#${pr.pr_number}` : `${pr.repository} ${pr.ref || ""}`.trim();
    return pr.links.pull_request ? link(pr.links.pull_request, name, "pull-request") : document.createTextNode(name);
  }

  function renderPulls() {
    const body = $("#pulls tbody"); body.innerHTML = "";
    const pulls = [...view.pulls.values()].sort((a, b) => b.id - a.id);
    $("#no-reviews").hidden = pulls.length > 0;
    for (const pr of pulls) {
      const tr = document.createElement("tr");
      tr.dataset.review = pr.id; tr.dataset.repository = pr.repository; tr.dataset.pr = pr.pr_number || "";
      if (pr.id === view.openId) tr.className = "open";
      const when = el("div", "pr-details", `${new Date(pr.created_at).toLocaleString()} · ${pr.reviews} review${pr.reviews === 1 ? "" : "s"}`);
      const score = el("span", "score", pr.quality_score === null ? "—" : pr.quality_score.toFixed(1));
      score.dataset.score = pr.quality_score === null ? "" : pr.quality_score;
      const counts = severityCounts(pr.by_severity);
      if (pr.hidden_count) { const h = el("span", "sev hidden-count", `${pr.hidden_count} hidden`); h.title = "below the confidence threshold: stored, not posted"; counts.append(h); }
      const open = el("button", "open-review", pr.id === view.openId ? "Shown below" : "Findings");
      open.type = "button";
      open.addEventListener("click", () => openReview(pr.id));
      const links = el("span", "review-links");
      if (pr.links.airflow_run) links.append(link(pr.links.airflow_run, "Airflow run", "airflow-run"));
      tr.append(cell("Pull request", prTitle(pr), when), cell("Score", score, document.createTextNode(" "), gate(pr.passed)),
        cell("Findings", counts), cell("", open, links));
      body.append(tr);
    }
  }

  // ------------------------------------------------------------------ one review's findings

  function renderDetail(review) {
    const box = $("#review-detail"); box.hidden = false; box.dataset.review = review.id;
    const head = $("#review-head"); head.innerHTML = "";
    const title = el("h3"); title.append(prTitle(review), document.createTextNode(" "), gate(review.passed));
    const facts = [
      review.quality_score === null ? null : `score ${review.quality_score.toFixed(1)}`,
      review.commit_sha ? review.commit_sha.slice(0, 8) : null,
      review.source, review.model_version ? `model v${review.model_version}` : null,
      review.threshold === null ? null : `threshold ${review.threshold}`,
      `${review.shown_count} shown, ${review.hidden_count} hidden`,
    ].filter(Boolean).join(" · ");
    const line = el("div", "pr-details", facts);
    head.append(title, line);
    if (review.links.airflow_run) head.append(link(review.links.airflow_run, "Airflow run " + review.run_id, "airflow-run"));
    const list = $("#findings"); list.innerHTML = "";
    for (const f of view.findings.values()) list.append(findingItem(f, review));
    $("#no-findings").hidden = view.findings.size > 0;
  }

  function findingItem(f, review) {
    const li = el("li", "finding" + (f.hidden ? " is-hidden" : ""));
    li.dataset.issue = f.id; li.dataset.hidden = f.hidden ? "true" : "false";
    const top = el("div", "finding-head");
    const where = el("code", "where", f.line !== null && f.line !== undefined ? `${f.file_path}:${f.line}` : f.file_path);
    const rule = el("span", "rule", f.rule); rule.title = f.analyzer;
    const sev = el("span", "sev sev-" + f.severity, f.severity); sev.dataset.role = "severity";
    top.append(where, rule, sev);
    if (f.predicted_severity) {
      const p = el("span", "predicted", `model: ${f.predicted_severity}`); p.dataset.role = "predicted";
      if (f.model_version) p.title = "model version " + f.model_version;
      top.append(p);
    }
    const conf = el("span", "confidence", `confidence ${f.confidence.toFixed(2)}${f.calibrated ? " (calibrated)" : ""}`);
    conf.dataset.role = "confidence";
    if (f.model_confidence !== null) conf.title = `severity model: ${f.model_confidence.toFixed(2)}`;
    top.append(conf);
    if (f.hidden) {
      const t = review.threshold === null ? "the threshold" : `threshold ${review.threshold}`;
      const h = el("span", "hidden-badge", `hidden by ${t}`); h.dataset.role = "hidden";
      h.title = "below the confidence threshold: stored for the learning system, not posted on the pull request";
      top.append(h);
    }
    li.append(top, el("div", "message", f.message), feedbackBar(f));
    return li;
  }

  function feedbackBar(f) {
    const bar = el("div", "feedback"); bar.dataset.role = "feedback";
    const mine = f.mine ? f.mine.kind : null;
    const allowed = canGiveFeedback();
    const keys = Object.fromEntries([...KINDS.map(([k]) => k), "wrong_severity"].map((k) => [k, clickKey()]));
    for (const [kind, label] of KINDS) {
      const b = el("button", "fb" + (mine === kind ? " mine" : ""), label);
      b.type = "button"; b.dataset.kind = kind; b.setAttribute("aria-pressed", mine === kind ? "true" : "false");
      const n = f.feedback[kind] || 0;
      if (n) b.append(el("span", "fb-count", ` ${n}`));
      b.disabled = !allowed;
      if (!allowed) b.title = "giving feedback needs the editor role in this project";
      b.addEventListener("click", () => sendFeedback(f.id, { kind, key: keys[kind] }, bar));
      bar.append(b);
    }
    const pick = document.createElement("select");
    pick.className = "fb" + (mine === "wrong_severity" ? " mine" : ""); pick.dataset.kind = "wrong_severity";
    pick.setAttribute("aria-label", "Wrong severity: pick the right one");
    const n = f.feedback.wrong_severity || 0;
    const first = new Option(`Wrong severity…${n ? " " + n : ""}`, "");
    pick.append(first);
    for (const s of SEVERITIES) if (s !== f.severity) pick.append(new Option("should be " + s, s));
    if (mine === "wrong_severity" && f.mine.corrected_severity) pick.value = f.mine.corrected_severity;
    pick.disabled = !allowed;
    pick.addEventListener("change", () => { if (pick.value) sendFeedback(f.id, { kind: "wrong_severity", severity: pick.value, key: keys.wrong_severity }, bar); });
    bar.append(pick);
    return bar;
  }

  // One press: the button's key, kept across retries (a lost answer is asked again, never stored twice).
  async function sendFeedback(issueId, what, bar) {
    const body = JSON.stringify(Object.assign({ project: view.project, issue_id: issueId }, what));
    for (const control of bar.querySelectorAll("button, select")) control.disabled = true;
    view.sending += 1;
    let answer = null, refusal = null;
    // Refused (4xx): said once.  Unreachable or the database down: the same request again, a little later.
    for (let attempt = 0; attempt < 3 && answer === null && refusal === null; attempt++) {
      try { answer = await api("/api/reviews/feedback", { method: "POST", body }); } catch (err) {
        if (err.status && err.status < 500) refusal = err.message;
        else await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
      }
    }
    view.sending -= 1;
    if (!answer) notify({ level: "error", message: "Feedback not stored: " + (refusal || "the dashboard did not answer; try again") });
    const f = view.findings.get(issueId);
    if (answer && f) { f.feedback = answer.finding.feedback; f.mine = answer.finding.mine; }
    const li = bar.closest("li");
    if (f && li) {
      li.replaceChild(feedbackBar(f), bar);
      if (answer) li.dataset.feedback = answer.finding.mine ? answer.finding.mine.kind : "";
    }
    if (answer) loadTrends();
  }

  // ------------------------------------------------------------------ plots (inline SVG)

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function drawQuality(series) {
    const box = $("#plot-quality .plot"); box.innerHTML = "";
    const legend = $("#plot-quality .legend"); legend.innerHTML = "";
    const points = series.flatMap((s) => s.points.map((p) => Date.parse(p.at)));
    if (!points.length) { box.append(el("p", "muted", "No scored reviews in the last 30 days.")); return; }
    const W = plotWidth(box), H = 150, L = 28, R = 8, T = 8, B = 20;
    let t0 = Math.min(...points), t1 = Math.max(...points);
    if (t1 === t0) { t0 -= 3600e3; t1 += 3600e3; }
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    const y = (s) => T + (1 - Math.max(0, Math.min(100, s)) / 100) * (H - T - B);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": "Quality score per repository over time" });
    for (const v of [0, 50, 100]) {
      root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
      root.append(svg("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end", class: "axis" }, String(v)));
    }
    const when = (t) => (t1 - t0 < 2 * 86400e3 ? new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : new Date(t).toLocaleDateString());
    root.append(svg("text", { x: L, y: H - 4, class: "axis" }, when(t0)));
    root.append(svg("text", { x: W - R, y: H - 4, "text-anchor": "end", class: "axis" }, when(t1)));
    series.forEach((s, i) => {
      const colour = PALETTE[i % PALETTE.length];
      const g = svg("g", { "data-repository": s.repository });
      const coords = s.points.map((p) => `${x(Date.parse(p.at)).toFixed(1)},${y(p.score).toFixed(1)}`);
      if (coords.length > 1) g.append(svg("polyline", { points: coords.join(" "), fill: "none", stroke: colour, "stroke-width": 1.5 }));
      for (const p of s.points) {
        const dot = svg("circle", { cx: x(Date.parse(p.at)).toFixed(1), cy: y(p.score).toFixed(1), r: 2.5, fill: colour, "data-score": p.score });
        dot.append(svg("title", {}, `${s.repository}: ${p.score} (${new Date(p.at).toLocaleString()})`));
        g.append(dot);
      }
      root.append(g);
      const item = el("li"); const sw = el("span", "swatch"); sw.style.background = colour;
      item.append(sw, document.createTextNode(s.repository)); legend.append(item);
    });
    box.append(root);
  }

  function drawRules(rules) {
    const box = $("#plot-rules .plot"); box.innerHTML = "";
    const legend = $("#plot-rules .legend"); legend.innerHTML = "";
    if (!rules.length) { box.append(el("p", "muted", "No feedback in the last 30 days.")); return; }
    const W = plotWidth(box), row = 24, L = 8, R = 8;
    const H = rules.length * row + 4;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": "Feedback per rule" });
    rules.forEach((r, i) => {
      const top = i * row + 2;
      const g = svg("g", { "data-rule": r.rule });
      g.append(svg("text", { x: L, y: top + 9, class: "axis" }, `${r.rule} · ${r.feedback} on ${r.findings} finding${r.findings === 1 ? "" : "s"}`));
      let at = L;
      for (const kind of Object.keys(KIND_COLOURS)) {
        const share = r.rates[kind] || 0;
        if (!share) continue;
        const w = share * (W - L - R);
        const bar = svg("rect", { x: at.toFixed(1), y: top + 12, width: w.toFixed(1), height: 8, fill: KIND_COLOURS[kind], "data-kind": kind, "data-rate": share });
        bar.append(svg("title", {}, `${r.rule}: ${KIND_NAMES[kind]} ${Math.round(share * 100)}% (${r.counts[kind]})`));
        g.append(bar); at += w;
      }
      root.append(g);
    });
    for (const [kind, colour] of Object.entries(KIND_COLOURS)) {
      const item = el("li"); const sw = el("span", "swatch"); sw.style.background = colour;
      item.append(sw, document.createTextNode(KIND_NAMES[kind])); legend.append(item);
    }
    box.append(root);
  }

  // ------------------------------------------------------------------ wiring to app.js

  document.addEventListener("autopr:project", async (e) => {
    view.project = e.detail; view.trends = null; view.pulls.clear(); view.nextBefore = null; view.openId = null; view.findings.clear();
    $("#review-detail").hidden = true; renderPulls();
    await loadRoles();
    if (view.project !== e.detail) return;
    loadPulls(false); loadTrends();
  });

  document.addEventListener("autopr:event", (e) => {
    const { event: ev, live } = e.detail;
    if (!live || ev.project !== view.project) return;
    if (ev.event_type === "dag_run" || (ev.event_type === "task_instance" && TERMINAL.has(ev.state))) refreshSoon();
  });

  $("#older-reviews").addEventListener("click", () => loadPulls(true));
  let resizing = null;
  window.addEventListener("resize", () => { clearTimeout(resizing); resizing = setTimeout(drawTrends, 200); });
  $("#close-review").addEventListener("click", () => { view.openId = null; $("#review-detail").hidden = true; renderPulls(); });
  setInterval(() => { if (view.project && state.token && document.visibilityState === "visible") refreshSoon(); }, POLL_MS);
})();
