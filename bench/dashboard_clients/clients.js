// Load clients for bench/bench_dashboard.py.
//
// Usage: node clients.js <url>  (reads a JSON array of {token, project} on stdin's first line)
// Prints "READY <n>" once every client has connected and joined its project, then, when a
// line "REPORT" arrives on stdin, prints one JSON line with what the clients received.
// Latency = receive time - payload.t (the publisher's wall clock at outbox.put, same machine).
"use strict";
const { io } = require("socket.io-client");
const readline = require("readline");

const url = process.argv[2];
const rl = readline.createInterface({ input: process.stdin });
let clients = [];
const now = () => performance.timeOrigin + performance.now();

function start(specs) {
  let joined = 0;
  let i = 0;
  const batch = 25;
  const openBatch = () => {
    for (const end = Math.min(i + batch, specs.length); i < end; i++) {
      const spec = specs[i];
      const c = { spec, ids: new Set(), dups: 0, latencies: [], joined: false, connects: 0 };
      clients.push(c);
      const socket = io(url, {
        transports: ["websocket"],
        auth: { token: spec.token },
        reconnection: true,
        reconnectionDelay: 200,
        reconnectionDelayMax: 2000,
        perMessageDeflate: false,
      });
      c.socket = socket;
      socket.on("connect", () => {
        c.connects++;
        socket.emit("join", { project: spec.project }, (ack) => {
          if (!ack || !ack.ok) { console.error("join failed", JSON.stringify(ack)); return; }
          if (!c.joined) { c.joined = true; joined++; if (joined === specs.length) console.log("READY " + joined); }
        });
      });
      socket.on("connect_error", (err) => console.error("connect_error", err.message));
      socket.on("event", (ev) => {
        const t = now();
        if (c.ids.has(ev.id)) { c.dups++; return; }
        c.ids.add(ev.id);
        if (ev.payload && ev.payload.t) c.latencies.push(t - ev.payload.t * 1000);
      });
    }
    if (i < specs.length) setTimeout(openBatch, 50);
  };
  openBatch();
}

rl.on("line", (line) => {
  if (!clients.length && line.startsWith("[")) { start(JSON.parse(line)); return; }
  if (line.trim() === "REPORT") {
    const latencies = [];
    let deliveries = 0, dups = 0, reconnects = 0;
    const perProject = {};
    for (const c of clients) {
      deliveries += c.ids.size; dups += c.dups; reconnects += Math.max(0, c.connects - 1);
      for (const l of c.latencies) latencies.push(Math.round(l * 100) / 100);
    }
    for (const c of clients) c.socket.close();
    // exit only once the (large) line is fully written: a pipe write is asynchronous in Node
    process.stdout.write(JSON.stringify({ clients: clients.length, deliveries, dups, reconnects, latencies }) + "\n",
      () => process.exit(0));
  }
});
