// The Node reference for bench/bench_dashboard.py: a plain socket.io 4 server doing the sidecar's job
// in the way socket.io's own documentation does it, so the sidecar is measured beside it in the same run.
//
// Usage: AUTOPR_JWT_SECRET=... node reference_server.js <port>
// * connect: auth {token}: an HS256/384/512 JWT, signature and expiry checked (as the sidecar checks them);
// * join {project}: the socket joins room "project:<slug>"; ack {ok, project, role, replayed: 0, count};
//   one presence count per room at most every 0.5 s (what the sidecar sends a large room);
// * every line on stdin is one state event (JSON): io.to("project:" + ev.project).emit("event", ev).
// Prints "LISTENING <port>" once it accepts connections. No database: this is the floor the sidecar's
// membership check, persistence and replay add to.
"use strict";
const crypto = require("crypto");
const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");

const port = Number(process.argv[2]);
const secret = process.env.AUTOPR_JWT_SECRET || "";
const b64url = (buf) => buf.toString("base64").replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");

function verify(token) {
  const parts = String(token || "").split(".");
  if (parts.length !== 3) throw new Error("malformed token");
  const alg = { HS256: "sha256", HS384: "sha384", HS512: "sha512" }[JSON.parse(Buffer.from(parts[0], "base64")).alg];
  if (!alg) throw new Error("unsupported token algorithm");
  const sig = b64url(crypto.createHmac(alg, secret).update(parts[0] + "." + parts[1]).digest());
  if (sig !== parts[2]) throw new Error("bad token signature");
  const claims = JSON.parse(Buffer.from(parts[1], "base64").toString());
  if (claims.exp && claims.exp * 1000 < Date.now()) throw new Error("token expired");
  return claims;
}

const server = http.createServer();
const io = new Server(server, { transports: ["websocket"], perMessageDeflate: false, pingInterval: 20000, pingTimeout: 20000 });
io.use((socket, next) => {
  try { socket.data.user = verify(socket.handshake.auth && socket.handshake.auth.token).sub; next(); }
  catch (err) { next(err); }
});

const due = new Set();
function presence(room) {
  if (due.has(room)) return;
  due.add(room);
  setTimeout(() => {
    due.delete(room);
    const members = io.sockets.adapter.rooms.get(room);
    io.to(room).emit("presence", { project: room.slice(8), count: members ? members.size : 0 });
  }, 500);
}

io.on("connection", (socket) => {
  socket.on("join", (req, ack) => {
    const project = req && req.project;
    if (typeof project !== "string") { if (ack) ack({ ok: false, field: "project" }); return; }
    const room = "project:" + project;
    socket.join(room);
    presence(room);
    if (ack) ack({ ok: true, project, role: "viewer", replayed: 0, count: io.sockets.adapter.rooms.get(room).size });
  });
  socket.on("disconnecting", () => { for (const room of socket.rooms) if (room.startsWith("project:")) presence(room); });
});

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line.trim()) return;
  const ev = JSON.parse(line);
  io.to("project:" + ev.project).emit("event", ev);
});

server.listen(port, "127.0.0.1", () => console.log("LISTENING " + port));
