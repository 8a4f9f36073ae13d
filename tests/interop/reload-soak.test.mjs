// The reload soak: 100 reloads of the policy (and with it the
// configuration), 10 of them broken, while 200 WebSockets are open through the tunnel to the
// real npm runner and the actors of half of them sleep and wake again and again (their sockets
// hibernate). Every socket must stay open, every message must come back exactly once and in
// order, routing must follow the last good policy, and sett's resident memory must not grow by
// more than 1 MiB between the end of a warm-up and the end of the run.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, fork } from "node:child_process";
import { mkdtempSync, writeFileSync, renameSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import WebSocket from "ws";
import { freePort, sleep, waitFor } from "./util.mjs";

const here = dirname(new URL(import.meta.url).pathname);
const SETT = process.env.SETT_BIN ?? join(here, "../../build/sett");
const tmp = mkdtempSync(join(tmpdir(), "sett-soak-"));
const policyPath = join(tmp, "policy.lua");
const confPath = join(tmp, "sett.lua");
const ROOMS = 20;            // actors: rooms hib-0..9 sleep and wake, live-0..9 stay up
const PER_ROOM = 10;         // sockets per room: 200 in all
const RELOADS = 100;
const BROKEN = new Set([4, 13, 22, 31, 40, 49, 58, 67, 76, 95]);
const MIB = 1024 * 1024;
let sett, runner, base, wsBase, admin, mainPort, adminPort;
const events = [];
const sockets = [];

// Files are replaced whole (write then rename), as a deploy tool would, so the watcher that
// reloads on a change never reads half a file.
function replace(path, text) {
  writeFileSync(path + ".new", text);
  renameSync(path + ".new", path);
}
function writeConf(gc) {
  replace(confPath, `return { listen = "127.0.0.1:${mainPort}", admin_listen = "127.0.0.1:${adminPort}",
    policy = "${policyPath}", policy_budget_ms = 50, gateway = { gc_interval_ms = ${gc} },
    tunnel = { ping_interval_ms = 1000 } }`);
}
// Good policy number v: rooms get or create their actor on the soak runner (a new actor's
// runner name comes from the policy), and /which answers the version. Each load starts two
// timers (one ticking every 50 ms, one far off) that the next reload must stop, and its route
// hands a ctx to can_hibernate and timeouts, so every socket keeps its request table until its
// open is acked.
function goodPolicy(v) {
  return `local sett = require "sett"
local seen = sett.counter("policy_soak_routes_total", "Routes the soak policy decided.")
local ticks = sett.shared("soak_ticks")
sett.timer.every(50, function() ticks:incr("n", 1) end)
sett.timer.after(3600000, function() end)
return {
  name = "soak-${v}",
  route = function(req)
    local room = req.path:match("^/r/([%w-]+)")
    if room then seen:inc(); return { name = "room", key = room, runner = "soak" }, { room = room, v = ${v} } end
    if req.path == "/which" then return { status = 200, body = "v${v}" } end
  end,
  can_hibernate = function(actor, req, runner_says) return runner_says and req.ctx ~= nil end,
  timeouts = function(actor, req) return { ping_timeout_ms = 60000 } end,
  self_test = function(pol)
    local P = require "sett.policy"
    assert(P.call_route(pol, { method = "GET", path = "/which", query = "", headers = {}, host = "", peer = "" }) == "respond")
  end,
}`;
}
// Ten ways to be refused: syntax, runtime error, wrong shape, a failing self_test, a runaway
// top level, a forbidden require.
const BROKEN_POLICIES = [
  "return { route = function(req) return { status = 200 end }",
  "error('boom at load')",
  "return 42",
  "return { rout = function() end }",
  "return { route = 'not a function' }",
  "return { route = function() end, self_test = function() error('self test says no') end }",
  "while true do end",
  "local io = require 'io' return {}",
  "return { route = function() end, self_test = function(p) assert(false, 'nope') end }",
  "return { name = 5 }",
];

async function reload() {
  const r = await fetch(`${admin}/admin/reload`, { method: "POST" });
  return [r.status, await r.json()];
}
async function which() {
  return (await fetch(`${base}/which`)).text();
}
function rss() {
  const m = readFileSync(`/proc/${sett.pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return Number(m[1]) * 1024;
}
async function openSocket(room, n) {
  const ws = new WebSocket(`${wsBase}/r/${room}/ws/${n}`);
  ws.room = room; ws.heard = []; ws.closed = null; ws.sent = 0;
  ws.on("message", (d) => ws.heard.push(d.toString()));
  ws.on("close", (code, reason) => { ws.closed = { code, reason: reason.toString() }; });
  await new Promise((res, rej) => { ws.once("open", res); ws.once("error", rej); });
  return ws;
}
// Sends one numbered message on every socket and waits until each has heard all it sent.
async function messageRound(tag) {
  for (const ws of sockets) {
    ws.sent++;
    ws.send(`${ws.room}:${ws.sent}:${tag}`);
  }
  await waitFor(() => sockets.every((ws) => ws.heard.length >= ws.sent), 20000, `echoes of round ${tag}`);
}
async function actorState(id) {
  return (await (await fetch(`${base}/actors/${id}?namespace=default`)).json()).actor;
}
// Sleeps every hib-* actor through the runner and waits until sett has them asleep.
async function sleepHalf(ids) {
  for (const id of ids) runner.send({ cmd: "sleep", id });
  await waitFor(async () => (await Promise.all(ids.map(actorState))).every((a) => a.sleep_ts), 15000, "actors asleep");
}

before(async () => {
  [mainPort, adminPort] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${mainPort}`; wsBase = `ws://127.0.0.1:${mainPort}`; admin = `http://127.0.0.1:${adminPort}`;
  replace(policyPath, goodPolicy(0));
  writeConf(1000);
  sett = spawn(SETT, ["run", confPath], { stdio: ["ignore", "ignore", openSync(join(tmp, "sett.log"), "w")] });
  await waitFor(() => fetch(`${admin}/health`).then((r) => r.ok), 5000, "sett");
  runner = fork(join(here, "reload-runner.mjs"), [base, "soak"], { stdio: "ignore" });
  runner.on("message", (m) => events.push(m));
  await waitFor(async () => (await (await fetch(`${base}/runners?namespace=default&name=soak`)).json()).runners.length === 1, 10000, "runner");
});

after(async () => {
  setTimeout(() => process.exit(), 3000).unref();
  for (const ws of sockets) ws.terminate();
  try { runner?.kill("SIGKILL"); } catch {}
  if (sett) { sett.kill("SIGTERM"); await new Promise((r) => sett.once("exit", r)); }
});

test("100 reloads (10 broken) with 200 sockets open, half hibernating: nothing dropped, lost or grown", { timeout: 120000 }, async () => {
  const t0 = Date.now();
  const rooms = [];
  for (let i = 0; i < ROOMS / 2; i++) rooms.push(`hib-${i}`, `live-${i}`);
  for (const room of rooms) {
    const batch = await Promise.all(Array.from({ length: PER_ROOM }, (_, n) => openSocket(room, n)));
    sockets.push(...batch);
  }
  assert.equal(sockets.length, ROOMS * PER_ROOM);
  const ids = {};
  for (const room of rooms) {
    const list = await (await fetch(`${base}/actors?namespace=default&name=room&key=${room}`)).json();
    assert.equal(list.actors.length, 1, `one actor for ${room}`);
    ids[room] = list.actors[0].actor_id;
  }
  const hibIds = rooms.filter((r) => r.startsWith("hib-")).map((r) => ids[r]);

  let good = 0;        // the version of the last good policy
  let gc = 1000;
  let reloadMs = 0, reloadCount = 0;
  // One step: replace the policy (every tenth step the configuration too), reload, check the
  // answer and that routing follows the last good policy.
  async function step(i, broken) {
    if (i % 10 === 0) { gc = gc === 1000 ? 1200 : 1000; writeConf(gc); }
    replace(policyPath, broken ? BROKEN_POLICIES[i % BROKEN_POLICIES.length] : goodPolicy(i));
    const t = process.hrtime.bigint();
    const [status, rep] = await reload();
    reloadMs += Number(process.hrtime.bigint() - t) / 1e6;
    reloadCount++;
    if (broken) {
      assert.equal(status, 422, `reload ${i} is refused`);
      assert.equal(rep.group, "policy");
    } else {
      assert.equal(status, 200, `reload ${i}: ${JSON.stringify(rep)}`);
      good = i;
    }
    assert.equal(await which(), `v${good}`, `routing after reload ${i}`);
  }

  // Warm-up: the same mix as the run, so caches, buffers and the allocator reach their size.
  for (let i = 1; i <= 20; i++) {
    await step(1000 + i, i % 10 === 4);
    if (i % 5 === 0) await messageRound(`w${i}`);
    if (i % 10 === 0) { await sleepHalf(hibIds); await messageRound(`ww${i}`); }
  }
  await sleep(300);
  const rssBefore = rss();
  const tWarm = Date.now();

  for (let i = 0; i < RELOADS; i++) {
    await step(i, BROKEN.has(i));
    if (i % 5 === 4) await messageRound(`r${i}`);
    if (i % 20 === 19) { await sleepHalf(hibIds); await messageRound(`s${i}`); }
  }
  await messageRound("last");
  await sleep(300);
  const rssAfter = rss();

  // Every socket open, every message back once and in order.
  for (const ws of sockets) {
    assert.equal(ws.closed, null, `socket of ${ws.room} closed: ${JSON.stringify(ws.closed)}`);
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(ws.heard.length, ws.sent, `${ws.room}: heard ${ws.heard.length} of ${ws.sent}`);
    ws.heard.forEach((m, k) => assert.equal(m.split(":")[1], String(k + 1), `${ws.room}: message ${k + 1} in order`));
  }
  // The runner saw 200 opens and no close; sleeping actors were restored, not reopened.
  assert.equal(events.filter((e) => e.ev === "open").length, ROOMS * PER_ROOM);
  assert.equal(events.filter((e) => e.ev === "close").length, 0);
  const starts = events.filter((e) => e.ev === "start");
  assert.ok(starts.length >= ROOMS + hibIds.length * 7, `actors woke after each sleep (${starts.length} starts)`);
  assert.ok(events.filter((e) => e.ev === "restore").length >= hibIds.length * PER_ROOM * 7, "sockets restored at each wake");
  // The live half never slept.
  for (const room of rooms.filter((r) => r.startsWith("live-"))) {
    assert.equal(starts.filter((e) => e.actorId === ids[room]).length, 1, `${room} started once`);
  }
  const metrics = await (await fetch(`${admin}/metrics`)).text();
  const count = (name) => Number(metrics.match(new RegExp(`^${name} (\\d+)`, "m"))?.[1]);
  // Each broken file is refused by the admin call and possibly again by the file watcher.
  assert.ok(count("sett_policy_reload_errors_total") >= BROKEN.size + 2);
  // Only the last policy's two timers are left.
  assert.equal(count("sett_policy_timers"), 2);
  const growth = rssAfter - rssBefore;
  console.log(`soak: ${RELOADS} reloads in ${((Date.now() - tWarm) / 1000).toFixed(1)} s after a warm-up; ` +
    `mean reload ${(reloadMs / reloadCount).toFixed(2)} ms (admin round trip); RSS ${(rssBefore / MIB).toFixed(2)} -> ` +
    `${(rssAfter / MIB).toFixed(2)} MiB (${growth >= 0 ? "+" : ""}${(growth / 1024).toFixed(0)} KiB); total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  // A sanitizer build keeps freed memory in quarantine; its RSS is no measure of growth (the
  // plain build, run by the same make test, asserts the bound).
  if (!process.env.SETT_SANITIZED) assert.ok(growth <= MIB, `RSS grew by ${(growth / 1024).toFixed(0)} KiB`);
});
