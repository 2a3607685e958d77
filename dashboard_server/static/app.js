// AutoPR live dashboard: plain JS over the sidecar's HTTP API and Socket.IO.
//
// Two views of one project's events:
// * runs (GET /api/runs): whole runs paged from the database, each with every event it has, its
//   workflow's name and the pull request it is about; live events are added to them;
// * the activity feed (GET /api/feed): the newest events, then live ones, in the order they happened.
// A task's (and a run's) shown state is the event the sidecar's one ordering rule ranks highest
// (GET /api/ordering, include/events/ordering.py), never simply the highest id: a late or re-claimed
// event must not move a task backwards.
//
// Resuming: the page keeps the highest feed id it has applied (lastId) and sends it in the handshake and
// on every join, so the sidecar replays whatever was missed before live events.  Applying an event twice
// is harmless (ids already seen are dropped).
//
// Signing in: a visitor already signed in to Airflow on this host is signed in by that session
// (POST /api/session reads Airflow's cookie); otherwise the login form trades Airflow credentials
// for the same kind of token.
"use strict";

const $ = (sel) => document.querySelector(sel);
const RUNS_PAGE = 25;
const FEED_MAX_ITEMS = 500;
// Inside Airflow's nav the page is a sandboxed iframe that may neither open tabs nor navigate Airflow's window.
const EMBEDDED = window.top !== window.self;
const state = {
  token: sessionStorage.getItem("autopr.token"),
  username: sessionStorage.getItem("autopr.username"),
  project: null,
  lastId: null,          // highest feed event id applied for the current project
  seen: new Set(),       // feed ids applied
  runs: new Map(),       // "dag|run" -> run (see newRun)
  oldestFeedId: null,
  nextRunsBefore: null,
  airflowUrl: "",
  socket: null,
  rank: null,            // the ordering rule, compiled from /api/ordering
};

// ------------------------------------------------------------------ the ordering rule (one function)

// Each component of the rule's key, as a number from one event (greater wins).
function rankComponents(table) {
  const lifecycle = new Map(table.lifecycle.map((s, i) => [s, i]));
  const terminal = new Set(table.terminal);
  const of = {
    try_number: (ev) => Number(ev.try_number) || 0,
    terminal: (ev) => (terminal.has(ev.state) ? 1 : 0),
    occurred_at: (ev) => epochMicros(ev.occurred_at),
    lifecycle: (ev) => (lifecycle.has(ev.state) ? lifecycle.get(ev.state) : -1),
    id: (ev) => Number(ev.id) || 0,
  };
  return table.key.map((name) => {
    if (!of[name]) throw new Error("unknown ordering component " + name);
    return of[name];
  });
}

// Microseconds since the epoch of an ISO-8601 time (Date.parse keeps only milliseconds).
function epochMicros(iso) {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return 0;
  const fraction = /\.(\d+)/.exec(iso || "");
  const micros = fraction ? Number((fraction[1] + "000000").slice(3, 6)) : 0;
  return ms * 1000 + micros;
}

// True when event a is a later state of its subject than event b.
function outranks(a, b) {
  for (const component of state.rank) {
    const x = component(a), y = component(b);
    if (x !== y) return x > y;
  }
  return false;
}

// ------------------------------------------------------------------ HTTP, sign-in

async function api(path, options = {}) {
  const headers = Object.assign({ "Content-Type": "application/json" }, options.headers || {});
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const reply = await fetch(path, Object.assign({}, options, { headers }));
  const body = await reply.json().catch(() => ({}));
  if (reply.status === 401 && path !== "/api/login" && path !== "/api/session") { sessionEnded("Your session ended; log in again."); }
  if (!reply.ok) throw Object.assign(new Error(body.detail || reply.statusText), { status: reply.status, reason: body.reason });
  return body;
}

// The sidecar cannot read its database ("history unavailable, retrying"): say so until a retry works.
const RETRY_MAX_MS = 10000;
let retryDelay = 1000;
function unavailable(message, retry) {
  setStatus(message || "history unavailable, retrying", "err");
  setTimeout(retry, retryDelay);
  retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
}
function available() { retryDelay = 1000; }
function isOutage(err) { return err && err.reason === "database"; }

function setStatus(text, cls) { const el = $("#status"); el.textContent = text; el.className = "status " + cls; }

function showLogin(message) {
  $("#login-view").hidden = false; $("#main-view").hidden = true; $("#logout").hidden = true;
  $("#who").textContent = ""; $("#login-error").textContent = message || "";
}

function useToken(body) {
  state.token = body.access_token; state.username = body.username;
  sessionStorage.setItem("autopr.token", state.token); sessionStorage.setItem("autopr.username", state.username);
}

function forgetToken() {
  sessionStorage.removeItem("autopr.token"); sessionStorage.removeItem("autopr.username");
  state.token = null;
  if (state.socket) { state.socket.disconnect(); state.socket = null; }
  setStatus("disconnected", "off");
}

// The Airflow UI's session on this host, if there is one (and the visitor did not log out here).
async function signInWithAirflowSession() {
  if (sessionStorage.getItem("autopr.signedOut")) return false;
  try { useToken(await api("/api/session", { method: "POST" })); return true; } catch (err) { return false; }
}

function logout() {
  sessionStorage.setItem("autopr.signedOut", "1");
  forgetToken();
  showLogin();
}

// The token expired or was refused: Airflow may have renewed its session meanwhile, else log in.
async function sessionEnded(message) {
  if (!state.token) return;
  forgetToken();
  if (await signInWithAirflowSession()) { await start(); return; }
  showLogin(message);
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#login-error").textContent = "";
  try {
    useToken(await api("/api/login", { method: "POST", body: JSON.stringify({
      username: $("#username").value, password: $("#password").value }) }));
    sessionStorage.removeItem("autopr.signedOut");
    await start();
  } catch (err) { $("#login-error").textContent = err.message; }
});
$("#logout").addEventListener("click", () => logout());
$("#project").addEventListener("change", () => selectProject($("#project").value));
$("#older").addEventListener("click", () => loadFeed(true));
$("#older-runs").addEventListener("click", () => loadRuns(true));
for (const id of ["#filter-state", "#filter-repository"]) $(id).addEventListener("change", renderRuns);
for (const id of ["#filter-workflow", "#filter-since"]) $(id).addEventListener("change", () => { state.runs.clear(); runsAsked.clear(); loadRuns(false); });

async function start() {
  $("#login-view").hidden = true; $("#main-view").hidden = false; $("#logout").hidden = false;
  $("#who").textContent = state.username || "";
  if (!state.rank) state.rank = rankComponents(await api("/api/ordering"));
  state.airflowUrl = (await api("/api/config")).airflow_ui_url;
  let projects;
  try { ({ projects } = await api("/api/projects")); } catch (err) {
    if (!isOutage(err)) throw err;
    unavailable(err.message, () => start().catch((e) => showLogin(e.message)));
    return;
  }
  const select = $("#project");
  select.innerHTML = "";
  for (const p of projects) { const o = document.createElement("option"); o.value = p.slug; o.textContent = `${p.slug} (${p.role})`; select.append(o); }
  if (!projects.length) { notify({ level: "warning", message: "You are not a member of any project yet." }); return; }
  const wanted = new URLSearchParams(location.search).get("project");
  const first = projects.some((p) => p.slug === wanted) ? wanted : projects[0].slug;
  select.value = first;
  connect();
  await selectProject(first);
}

// ------------------------------------------------------------------ the socket

function connect() {
  if (state.socket) return;
  // auth is a function so every reconnect sends the newest lastId.
  const socket = io({ transports: ["websocket", "polling"], auth: (cb) => cb({ token: state.token, last_event_id: state.lastId }) });
  state.socket = socket;
  socket.on("connect", () => { setStatus("live", "on"); if (state.project) join(state.project); });
  socket.on("disconnect", (reason) => setStatus("reconnecting… (" + reason + ")", "off"));
  socket.on("connect_error", (err) => {
    setStatus("refused: " + err.message, "err");
    if (/token/.test(err.message)) sessionEnded("Session ended (" + err.message + "); log in again.");
  });
  socket.on("event", (ev) => applyEvent(ev));
  socket.on("notification", notify);
  socket.on("presence", (p) => { if (p.project === state.project) applyPresence(p); });
  socket.on("error", (e) => {
    if (e && e.field === "token") { sessionEnded("Session ended (" + e.message + "); log in again."); return; }
    if (e && e.reason === "database") return;  // the join's ack says it too, and is retried (join)
    notify({ level: "error", message: `${e.event}: ${e.field ? e.field + ": " : ""}${e.message}` });
  });
}

function join(project) {
  state.socket.emit("join", { project, last_event_id: state.lastId }, (ack) => {
    if (project !== state.project || !ack) return;
    if (ack.ok === false && ack.retry) { unavailable(ack.message, () => { if (state.socket && state.socket.connected) join(project); }); return; }
    if (!ack.ok) return;
    available(); setStatus("live", "on");
    presenceFromAck(ack);
    // The sidecar's history restarted below what this page held (a restored database): start over.
    if (ack.resync) { notify({ level: "warning", message: "Resynchronised: " + ack.resync }); selectProject(project); }
  });
}

async function selectProject(project) {
  if (state.project && state.socket && state.project !== project) state.socket.emit("leave", { project: state.project });
  state.project = project; state.lastId = null; state.seen.clear(); state.runs.clear(); runsAsked.clear(); state.oldestFeedId = null;
  history.replaceState(null, "", "?project=" + encodeURIComponent(project));
  document.dispatchEvent(new CustomEvent("autopr:project", { detail: project }));  // reviews.js
  $("#feed").innerHTML = ""; renderRuns();
  // History first (the feed's newest events and the newest whole runs), then join from the newest
  // feed id we hold: the sidecar replays anything that landed in between before live events.
  try { await Promise.all([loadFeed(false), loadRuns(false)]); } catch (err) {
    if (!isOutage(err)) throw err;
    unavailable(err.message, () => { if (state.project === project) selectProject(project); });
    return;
  }
  if (state.lastId === null) state.lastId = 0;
  if (state.socket && state.socket.connected) join(project);
}

// ------------------------------------------------------------------ loading history

async function loadFeed(older) {
  const params = new URLSearchParams({ project: state.project, limit: "100" });
  if (older && state.oldestFeedId) params.set("before_id", state.oldestFeedId);
  const body = await api("/api/feed?" + params);
  for (const ev of body.items.slice().reverse()) applyEvent(ev, { fromFeedPage: true });
  $("#older").hidden = body.next_before_id === null;
}

function runsQuery(extra) {
  const params = new URLSearchParams(Object.assign({ project: state.project, limit: String(RUNS_PAGE) }, extra));
  const workflow = $("#filter-workflow").value, since = Number($("#filter-since").value);
  if (workflow) params.set("workflow", workflow);
  if (since) params.set("since", new Date(Date.now() - since * 1000).toISOString());
  return "/api/runs?" + params;
}

async function loadRuns(older) {
  const project = state.project;
  const body = await api(runsQuery(older && state.nextRunsBefore ? { before: String(state.nextRunsBefore) } : {}));
  if (project !== state.project) return;
  for (const page of body.runs) mergeRun(page);
  state.nextRunsBefore = body.next_before;
  $("#older-runs").hidden = body.next_before === null;
  renderRuns(); relabelFeed();
}

// A run seen live for the first time: fetch it whole (its earlier events, workflow and pull request).
const runsAsked = new Set();
async function loadRun(run) {
  if (runsAsked.has(run.key)) return;
  runsAsked.add(run.key);
  try {
    const body = await api("/api/runs?" + new URLSearchParams({ project: state.project, dag_id: run.dag_id, run_id: run.run_id }));
    for (const page of body.runs) mergeRun(page);
    renderRuns(); relabelFeed();
  } catch (err) { runsAsked.delete(run.key); }
}

// ------------------------------------------------------------------ runs

function runKey(ev) { return ev.dag_id + "|" + ev.run_id; }

function newRun(ev) {
  return {
    key: runKey(ev), dag_id: ev.dag_id, run_id: ev.run_id, firstId: ev.id,
    workflow: null, context: null,
    ids: new Set(), tasks: new Map(), runEvent: null, firstAt: null, lastAt: null,
  };
}

function mergeRun(page) {
  let run = state.runs.get(page.dag_id + "|" + page.run_id);
  if (!run) { run = newRun(Object.assign({ id: page.first_id }, page)); state.runs.set(run.key, run); }
  run.workflow = page.workflow || run.workflow;
  run.context = page.context || run.context;
  runsAsked.add(run.key);
  for (const ev of page.events) addToRun(run, ev);
}

function taskKey(ev) { return ev.task_id + (ev.map_index >= 0 ? `[${ev.map_index}]` : ""); }

function addToRun(run, ev) {
  if (run.ids.has(ev.id)) return;
  run.ids.add(ev.id);
  run.firstId = Math.min(run.firstId, ev.id);
  const at = Date.parse(ev.occurred_at);
  if (run.firstAt === null || at < run.firstAt) run.firstAt = at;
  if (run.lastAt === null || at > run.lastAt) run.lastAt = at;
  if (ev.event_type === "dag_run") {
    if (!run.runEvent || outranks(ev, run.runEvent)) run.runEvent = ev;
  } else if (ev.event_type === "task_instance") {
    const key = taskKey(ev), shown = run.tasks.get(key);
    if (!shown || outranks(ev, shown)) run.tasks.set(key, ev);
  }
}

function applyEvent(ev, opts = {}) {
  if (ev.project !== state.project || state.seen.has(ev.id)) return;
  state.seen.add(ev.id);
  document.dispatchEvent(new CustomEvent("autopr:event", { detail: { event: ev, live: !opts.fromFeedPage } }));  // reviews.js
  if (state.lastId === null || ev.id > state.lastId) state.lastId = ev.id;
  if (state.oldestFeedId === null || ev.id < state.oldestFeedId) state.oldestFeedId = ev.id;
  if (ev.event_type === "dag_run" || ev.event_type === "task_instance") {
    let run = state.runs.get(runKey(ev));
    // A feed page's events belong to runs the runs pages hold whole (or will); a live event may start a run.
    if (!run && !opts.fromFeedPage) { run = newRun(ev); state.runs.set(run.key, run); loadRun(run); }
    if (run) { addToRun(run, ev); renderRuns(); }
  }
  addFeedItem(ev);
}

const TERMINAL_RUN_STATES = new Set(["success", "failed"]);

function runState(run) { return run.runEvent ? run.runEvent.state : "running"; }

function seconds(from, to) { return from && to ? Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000) : null; }

function runDuration(run) {
  const p = run.runEvent ? run.runEvent.payload || {} : {};
  const ended = TERMINAL_RUN_STATES.has(runState(run));
  const start = p.start_date ? Date.parse(p.start_date) : run.firstAt;
  const end = p.end_date ? Date.parse(p.end_date) : ended ? run.lastAt : Date.now();
  return start === null ? null : Math.max(0, (end - start) / 1000);
}

function taskDuration(ev) {
  const p = ev.payload || {};
  if (typeof p.duration === "number") return p.duration;
  if (ev.state === "running" && p.start_date) return seconds(p.start_date, new Date().toISOString());
  return seconds(p.start_date, p.end_date);
}

function formatDuration(s) {
  if (s === null || s === undefined) return "";
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

// Why the run failed: the failed tasks' errors, else the run's own message.
function failureOf(run) {
  const reasons = [];
  for (const [key, ev] of run.tasks) {
    if (ev.state === "failed" || ev.state === "up_for_retry") reasons.push(`${key}: ${(ev.payload || {}).error || ev.state}`);
  }
  if (!reasons.length && runState(run) === "failed") reasons.push((run.runEvent.payload || {}).msg || "run failed");
  return reasons.join("\n");
}

function matchesFilters(run) {
  const st = $("#filter-state").value, repo = $("#filter-repository").value, since = Number($("#filter-since").value);
  const workflow = $("#filter-workflow").value;
  if (st && runState(run) !== st) return false;
  if (repo && (!run.context || run.context.repository !== repo)) return false;
  if (workflow && (!run.workflow || run.workflow.slug !== workflow)) return false;
  if (since && run.lastAt !== null && run.lastAt < Date.now() - since * 1000) return false;
  return true;
}

// Keep a filter's choices to what the loaded runs have (plus the current choice).
function fillChoices(select, values) {
  const current = select.value;
  const wanted = new Map([["", "any"], ...[...values.entries()].sort((a, b) => a[1].localeCompare(b[1]))]);
  if (current && !wanted.has(current)) wanted.set(current, current);
  const have = [...select.options].map((o) => o.value + "\u0000" + o.textContent).join("\u0001");
  const next = [...wanted].map(([v, t]) => v + "\u0000" + t).join("\u0001");
  if (have === next) return;
  select.innerHTML = "";
  for (const [value, text] of wanted) { const o = document.createElement("option"); o.value = value; o.textContent = text; select.append(o); }
  select.value = current;
}

function chip(text, st, title) { const s = document.createElement("span"); s.className = "chip s-" + (st || "none"); s.textContent = text; if (title) s.title = title; return s; }

function link(href, text, kind) {
  const a = document.createElement("a");
  a.href = href; a.textContent = text; a.dataset.link = kind;
  if (!EMBEDDED) { a.target = "_blank"; a.rel = "noopener"; }
  return a;
}

function cell(label, ...children) {
  const td = document.createElement("td"); td.dataset.label = label; td.append(...children); return td;
}

function workflowCell(run) {
  const name = document.createElement("span");
  name.className = "workflow-name";
  name.textContent = run.workflow ? run.workflow.name : run.dag_id;
  const version = run.context && run.context.workflow_version;
  const parts = [name];
  if (version) { const v = document.createElement("span"); v.className = "muted version"; v.textContent = ` v${version}`; parts.push(v); }
  return cell("Workflow", ...parts);
}

function pullRequestCell(run) {
  const c = run.context;
  if (!c || !c.repository) return c && c.kind ? cell("Pull request", document.createTextNode(c.kind)) : cell("Pull request");
  const number = c.pr_number ? `#${c.pr_number}` : c.issue_number ? `#${c.issue_number}` : c.ref || "";
  const head = c.url ? link(c.url, `${c.repository}${number}`, "code-host") : document.createTextNode(`${c.repository} ${number}`);
  const details = document.createElement("div");
  details.className = "pr-details";
  details.textContent = [c.title, c.author ? "by " + c.author : ""].filter(Boolean).join(" · ");
  const wrap = document.createElement("div"); wrap.className = "pr"; wrap.append(head, details);
  return cell("Pull request", wrap);
}

function renderRuns() {
  const body = $("#runs tbody"); body.innerHTML = "";
  const all = [...state.runs.values()].sort((a, b) => b.firstId - a.firstId);
  fillChoices($("#filter-workflow"), new Map(all.filter((r) => r.workflow).map((r) => [r.workflow.slug, r.workflow.name])));
  fillChoices($("#filter-repository"), new Map(all.filter((r) => r.context && r.context.repository).map((r) => [r.context.repository, r.context.repository])));
  const runs = all.filter(matchesFilters);
  $("#no-runs").hidden = runs.length > 0;
  $("#no-runs").textContent = all.length ? "No runs match the filters." : "No runs yet.";
  for (const run of runs) {
    const tr = document.createElement("tr");
    tr.dataset.run = run.run_id; tr.dataset.dag = run.dag_id;
    const airflow = link(`${state.airflowUrl}/dags/${encodeURIComponent(run.dag_id)}/runs/${encodeURIComponent(run.run_id)}`, run.run_id, "airflow");
    const tasks = document.createElement("div"); tasks.className = "tasks";
    for (const [key, t] of run.tasks) {
      const duration = formatDuration(taskDuration(t));
      const c = chip(`${key}: ${t.state}${duration ? " · " + duration : ""}`, t.state, `try ${t.try_number}`);
      c.dataset.task = key; c.dataset.state = t.state; tasks.append(c);
    }
    const st = runState(run);
    const rs = chip(st, st); rs.dataset.runState = st;
    const duration = document.createElement("span"); duration.className = "duration muted"; duration.textContent = " " + formatDuration(runDuration(run));
    tr.append(workflowCell(run), pullRequestCell(run), cell("Run", airflow), cell("State", rs, duration), cell("Tasks", tasks));
    const reason = failureOf(run);
    if (reason) {
      const why = document.createElement("div"); why.className = "reason"; why.dataset.testid = "reason"; why.textContent = reason;
      tr.lastElementChild.append(why);
    }
    body.append(tr);
  }
}
// Running runs' and tasks' durations grow while nothing arrives.
setInterval(() => { if ([...state.runs.values()].some((r) => !TERMINAL_RUN_STATES.has(runState(r)))) renderRuns(); }, 5000);

// ------------------------------------------------------------------ the activity feed

// Newest first by when it happened (then by id), wherever an event comes from and whenever it arrives.
function feedOrder(ev) { return [epochMicros(ev.occurred_at), ev.id]; }

function addFeedItem(ev) {
  const li = document.createElement("li");
  const [at, id] = feedOrder(ev);
  li.dataset.id = id; li.dataset.at = at;
  const when = new Date(ev.occurred_at).toLocaleTimeString();
  const what = document.createElement("span");
  what.className = "what"; what.dataset.dag = ev.dag_id; what.dataset.run = ev.run_id;
  what.textContent = workflowName(ev);
  const detail = ev.task_id ? ` · ${ev.task_id}` : "";
  const message = ev.event_type === "notification" && ev.payload && ev.payload.message ? `: ${ev.payload.message}` : "";
  li.append(document.createTextNode(`#${ev.id} ${when} `), what, document.createTextNode(`${detail}${message} `), chip(ev.state, ev.state));
  const feed = $("#feed");
  let before = null;
  for (const other of feed.children) {
    const otherAt = Number(other.dataset.at);
    if (otherAt < at || (otherAt === at && Number(other.dataset.id) < id)) { before = other; break; }
  }
  feed.insertBefore(li, before);
  while (feed.children.length > FEED_MAX_ITEMS) feed.lastElementChild.remove();
}

function workflowName(ev) {
  const run = state.runs.get(runKey(ev));
  return run && run.workflow ? run.workflow.name : ev.dag_id;
}

// Feed items that arrived before their run's workflow was known get its name.
function relabelFeed() {
  for (const what of document.querySelectorAll("#feed .what")) {
    what.textContent = workflowName({ dag_id: what.dataset.dag, run_id: what.dataset.run });
  }
}

// Presence comes as deltas (dashboard_server/presence.py): the join ack is the base (count, seq and
// every name in a small room, a sample in a large one), each later message ({seq, count, joined,
// left, watchers?, more_joined?, more_left?}) moves it on; messages at or below the base's seq
// are already in it.
const presence = { project: null, seq: -1, count: 0, names: new Set() };
const PRESENCE_SHOWN = 10;  // names shown beside the count in a room too large to list

function presenceFromAck(ack) {
  if (typeof ack.count !== "number") return;
  presence.project = ack.project; presence.seq = ack.seq; presence.count = ack.count;
  presence.names = new Set(ack.watchers || ack.sample || []);
  showWatchers();
}

function applyPresence(p) {
  if (p.project !== presence.project || typeof p.seq !== "number" || p.seq <= presence.seq) return;
  presence.seq = p.seq; presence.count = p.count;
  if (p.watchers) presence.names = new Set(p.watchers);
  else {
    if (p.more_left) presence.names = new Set();  // some who left are not named: only the count is sure
    for (const name of p.left || []) presence.names.delete(name);
    for (const name of p.joined || []) presence.names.add(name);
  }
  showWatchers();
}

function showWatchers() {
  const names = [...presence.names].sort();
  let text;
  if (!presence.count) text = "nobody else";
  else if (names.length === presence.count) text = names.join(", ");
  else {
    const shown = names.slice(0, PRESENCE_SHOWN);
    text = presence.count + (shown.length ? " (" + shown.join(", ") + ", …)" : "");
  }
  $("#watchers").textContent = "Watching: " + text;
}

function notify(n) {
  const div = document.createElement("div");
  div.className = n.level === "error" ? "error" : "warning";
  div.textContent = n.message; div.dataset.level = n.level;
  const box = $("#notifications"); box.prepend(div);
  while (box.children.length > 5) box.lastElementChild.remove();
  setTimeout(() => div.remove(), 15000);
}

(async () => {
  if (state.token || await signInWithAirflowSession()) await start().catch((err) => showLogin(err.message));
  else showLogin();
})();
