// AutoPR live dashboard: plain JS over the sidecar's HTTP API and Socket.IO.
//
// State model: every event has a global, monotonic id.  The page keeps the
// highest id it has applied (lastId) and a set of applied ids; on (re)connect
// it sends lastId in the handshake and re-joins its project, so the sidecar
// replays whatever was missed before live events.  Applying an event twice is
// harmless anyway (the set drops repeats).
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = {
  token: sessionStorage.getItem("autopr.token"),
  username: sessionStorage.getItem("autopr.username"),
  project: null,
  lastId: null,          // highest event id applied for the current project
  seen: new Set(),
  runs: new Map(),       // "dag|run" -> {dag_id, run_id, state, tasks: Map(taskKey -> {task_id, map_index, state, id})}
  oldestFeedId: null,
  airflowUrl: "",
  socket: null,
};

async function api(path, options = {}) {
  const headers = Object.assign({ "Content-Type": "application/json" }, options.headers || {});
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const reply = await fetch(path, Object.assign({}, options, { headers }));
  const body = await reply.json().catch(() => ({}));
  if (reply.status === 401 && path !== "/api/login") { logout("Your session ended; log in again."); }
  if (!reply.ok) throw new Error(body.detail || reply.statusText);
  return body;
}

function setStatus(text, cls) { const el = $("#status"); el.textContent = text; el.className = "status " + cls; }

function showLogin(message) {
  $("#login-view").hidden = false; $("#main-view").hidden = true; $("#logout").hidden = true;
  $("#who").textContent = ""; $("#login-error").textContent = message || "";
}

function logout(message) {
  sessionStorage.removeItem("autopr.token"); sessionStorage.removeItem("autopr.username");
  state.token = null;
  if (state.socket) { state.socket.disconnect(); state.socket = null; }
  setStatus("disconnected", "off");
  showLogin(message);
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#login-error").textContent = "";
  try {
    const body = await api("/api/login", { method: "POST", body: JSON.stringify({
      username: $("#username").value, password: $("#password").value }) });
    state.token = body.access_token; state.username = body.username;
    sessionStorage.setItem("autopr.token", state.token); sessionStorage.setItem("autopr.username", state.username);
    await start();
  } catch (err) { $("#login-error").textContent = err.message; }
});
$("#logout").addEventListener("click", () => logout());
$("#project").addEventListener("change", () => selectProject($("#project").value));
$("#older").addEventListener("click", () => loadFeed(true));

async function start() {
  $("#login-view").hidden = true; $("#main-view").hidden = false; $("#logout").hidden = false;
  $("#who").textContent = state.username || "";
  state.airflowUrl = (await api("/api/config")).airflow_ui_url;
  const { projects } = await api("/api/projects");
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

function connect() {
  if (state.socket) return;
  // auth is a function so every reconnect sends the newest lastId.
  const socket = io({ transports: ["websocket", "polling"], auth: (cb) => cb({ token: state.token, last_event_id: state.lastId }) });
  state.socket = socket;
  socket.on("connect", () => { setStatus("live", "on"); if (state.project) join(state.project); });
  socket.on("disconnect", (reason) => setStatus("reconnecting… (" + reason + ")", "off"));
  socket.on("connect_error", (err) => {
    setStatus("refused: " + err.message, "err");
    if (/token/.test(err.message)) logout("Session ended (" + err.message + "); log in again.");
  });
  socket.on("event", applyEvent);
  socket.on("notification", notify);
  socket.on("presence", (p) => { if (p.project === state.project) showWatchers(p.watchers); });
  socket.on("error", (e) => {
    if (e && e.field === "token") { logout("Session ended (" + e.message + "); log in again."); return; }
    notify({ level: "error", message: `${e.event}: ${e.field ? e.field + ": " : ""}${e.message}` });
  });
}

function join(project) {
  state.socket.emit("join", { project, last_event_id: state.lastId }, (ack) => {
    if (ack && ack.ok && ack.watchers) showWatchers(ack.watchers);
  });
}

async function selectProject(project) {
  if (state.project && state.socket && state.project !== project) state.socket.emit("leave", { project: state.project });
  state.project = project; state.lastId = null; state.seen.clear(); state.runs.clear(); state.oldestFeedId = null;
  history.replaceState(null, "", "?project=" + encodeURIComponent(project));
  $("#feed").innerHTML = ""; renderRuns();
  // History first (newest 100), then join from the newest id we hold: the sidecar replays
  // anything that landed in between before sending live events.
  await loadFeed(false);
  if (state.lastId === null) state.lastId = 0;
  if (state.socket && state.socket.connected) join(project);
}

async function loadFeed(older) {
  const params = new URLSearchParams({ project: state.project, limit: "100" });
  if (older && state.oldestFeedId) params.set("before_id", state.oldestFeedId);
  const body = await api("/api/feed?" + params);
  const items = body.items.slice().reverse(); // oldest first
  for (const ev of items) applyEvent(ev, { fromHistory: true, older });
  $("#older").hidden = body.next_before_id === null;
}

function runKey(ev) { return ev.dag_id + "|" + ev.run_id; }

function applyEvent(ev, opts = {}) {
  if (ev.project !== state.project || state.seen.has(ev.id)) return;
  state.seen.add(ev.id);
  if (state.lastId === null || ev.id > state.lastId) state.lastId = ev.id;
  if (state.oldestFeedId === null || ev.id < state.oldestFeedId) state.oldestFeedId = ev.id;
  if (ev.event_type === "dag_run" || ev.event_type === "task_instance") {
    let run = state.runs.get(runKey(ev));
    if (!run) { run = { dag_id: ev.dag_id, run_id: ev.run_id, state: "running", stateId: -1, tasks: new Map(), firstId: ev.id }; state.runs.set(runKey(ev), run); }
    if (ev.event_type === "dag_run") { if (ev.id > run.stateId) { run.state = ev.state; run.stateId = ev.id; } }
    else {
      const key = ev.task_id + (ev.map_index >= 0 ? `[${ev.map_index}]` : "");
      const t = run.tasks.get(key);
      if (!t || ev.id > t.id) run.tasks.set(key, { key, state: ev.state, id: ev.id, try_number: ev.try_number });
    }
    renderRuns();
  }
  addFeedItem(ev, opts.older);
}

function chip(text, st, title) { const s = document.createElement("span"); s.className = "chip s-" + (st || "none"); s.textContent = text; if (title) s.title = title; return s; }

function renderRuns() {
  const body = $("#runs tbody"); body.innerHTML = "";
  const runs = [...state.runs.values()].sort((a, b) => b.firstId - a.firstId).slice(0, 50);
  $("#no-runs").hidden = runs.length > 0;
  for (const run of runs) {
    const tr = document.createElement("tr");
    tr.dataset.run = run.run_id;
    const link = document.createElement("a");
    link.href = `${state.airflowUrl}/dags/${encodeURIComponent(run.dag_id)}/runs/${encodeURIComponent(run.run_id)}`;
    link.target = "_blank"; link.rel = "noopener"; link.textContent = run.run_id;
    const tasks = document.createElement("td");
    for (const t of run.tasks.values()) { const c = chip(`${t.key}: ${t.state}`, t.state, `try ${t.try_number}`); c.dataset.task = t.key; c.dataset.state = t.state; tasks.append(c); }
    const cells = [document.createElement("td"), document.createElement("td"), document.createElement("td"), tasks];
    cells[0].textContent = run.dag_id; cells[1].append(link);
    const rs = chip(run.state, run.state); rs.dataset.runState = run.state; cells[2].append(rs);
    tr.append(...cells); body.append(tr);
  }
}

function addFeedItem(ev, older) {
  const li = document.createElement("li");
  li.dataset.id = ev.id;
  const when = new Date(ev.occurred_at).toLocaleTimeString();
  const what = ev.event_type === "task_instance" ? `${ev.dag_id}.${ev.task_id}` : ev.dag_id;
  li.append(document.createTextNode(`#${ev.id} ${when} ${what} `), chip(ev.state, ev.state));
  const feed = $("#feed");
  if (older) { feed.append(li); return; }
  // keep newest first even when history and live events interleave
  let before = null;
  for (const other of feed.children) { if (Number(other.dataset.id) < ev.id) { before = other; break; } }
  feed.insertBefore(li, before);
  while (feed.children.length > 500) feed.lastElementChild.remove();
}

function showWatchers(watchers) { $("#watchers").textContent = "Watching: " + (watchers.length ? watchers.join(", ") : "nobody else"); }

function notify(n) {
  const div = document.createElement("div");
  div.className = n.level === "error" ? "error" : "warning";
  div.textContent = n.message; div.dataset.level = n.level;
  const box = $("#notifications"); box.prepend(div);
  while (box.children.length > 5) box.lastElementChild.remove();
  setTimeout(() => div.remove(), 15000);
}

if (state.token) start().catch((err) => showLogin(err.message)); else showLogin();
