// WebSocket hibernation end to end: sett on the Redis store, the real npm runner hosting actors
// that persist their sockets and acknowledge what they received (hibernation-runner.mjs), and
// clients that must never notice the actor sleeping, moving or Redis going away.
// The test runs its own redis-server, because one test stops and restarts it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, fork, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import net from "node:net";
import WebSocket from "ws";
import { freePort, sleep, waitFor, running } from "./util.mjs";

const here = dirname(new URL(import.meta.url).pathname);
const SETT = process.env.SETT_BIN ?? join(here, "../../build/sett");
const tmp = mkdtempSync(join(tmpdir(), "sett-hib-"));
const THRESHOLD = 1000; // hibernation.eligible_threshold_ms: rows refreshed every 500 ms
const children = [];
let redis, redisPort, main, limits;


async function startRedis() {
  redis = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
    "--dir", tmp, "--dbfilename", "hib.rdb"], { stdio: "ignore" });
  await waitFor(() => cli("PING") === "PONG", 5000, "redis-server");
}
async function stopRedis() {
  // SHUTDOWN SAVE keeps the data, as a restarted production Redis would have it.
  try { cli("SHUTDOWN", "SAVE"); } catch {}
  await new Promise((r) => (running(redis) ? redis.once("exit", r) : r()));
}
function cli(...args) {
  return execFileSync("redis-cli", ["-p", String(redisPort), ...args], { encoding: "utf8" }).trim();
}
// A sorted set's members (binary: gateway id and request id) with their scores, read over RESP
// so that no byte of a member can be mangled by a text format.
function zrange(key) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(redisPort, "127.0.0.1");
    const args = ["ZRANGE", key, "0", "-1", "WITHSCORES"];
    sock.end(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(""));
    const chunks = [];
    sock.on("data", (d) => chunks.push(d));
    sock.on("error", reject);
    sock.on("end", () => {
      const buf = Buffer.concat(chunks);
      let pos = 0;
      const line = () => { const e = buf.indexOf("\r\n", pos); const l = buf.subarray(pos, e).toString(); pos = e + 2; return l; };
      const head = line();
      if (head[0] !== "*") return reject(new Error(`redis: ${head}`));
      const items = [];
      for (let n = Number(head.slice(1)); n > 0; n--) {
        const len = Number(line().slice(1));
        items.push(buf.subarray(pos, pos + len));
        pos += len + 2;
      }
      const rows = [];
      for (let i = 0; i < items.length; i += 2) rows.push({ id: items[i].toString("hex"), score: Number(items[i + 1].toString()) });
      resolve(rows);
    });
  });
}

async function startSett(name, extra = "") {
  const [p, a] = [await freePort(), await freePort()];
  const conf = join(tmp, `${name}.lua`);
  writeFileSync(conf, `return { listen = "127.0.0.1:${p}", admin_listen = "127.0.0.1:${a}",
    store = { kind = "redis", url = "redis://127.0.0.1:${redisPort}/0", prefix = "${name}:", command_timeout_ms = 1000, reconnect_max_ms = 200 },
    runner = { ping_interval_ms = 200, ping_timeout_ms = 2000, lost_threshold_ms = 800, eligible_ms = 2000 },
    tunnel = { ping_interval_ms = 200, ping_timeout_ms = 5000 },
    gateway = { ready_timeout_ms = 8000, gc_interval_ms = 200 },
    ${extra} }`);
  const s = { name, conf, prefix: `${name}:`, base: `http://127.0.0.1:${p}`, ws: `ws://127.0.0.1:${p}`, admin: `http://127.0.0.1:${a}` };
  return spawnSett(s);
}
// (Re)starts the sett process of s on its configuration, ports included.
async function spawnSett(s) {
  s.log = join(tmp, `${s.name}-${Date.now()}.log`);
  s.proc = spawn(SETT, ["run", s.conf], { stdio: ["ignore", "ignore", openSync(s.log, "w")] });
  setts.add(s.proc);
  await waitFor(() => fetch(`${s.admin}/health`).then((r) => r.ok), 5000, `sett ${s.name}`);
  return s;
}
// Every sett process this file started, also those a test respawned or killed, so that none
// outlives the file whatever failed.
const setts = new Set();
// A process killed by a signal has a signalCode and no exitCode; waiting for its exit again
// would wait forever.
async function stopSett(s) {
  const p = s.proc;
  if (running(p)) { p.kill("SIGTERM"); await new Promise((r) => p.once("exit", r)); }
}
async function ask(r, cmd) {
  const n = r.events.length;
  r.send(cmd);
  return waitFor(() => r.events.slice(n).find((e) => e.ev === cmd.cmd && e.actorId === cmd.id), 5000, cmd.cmd);
}
function startRunner(s, name, key) {
  const child = fork(join(here, "hibernation-runner.mjs"), [s.base, name, key], { stdio: "ignore" });
  child.events = [];
  child.on("message", (m) => child.events.push(m));
  children.push(child);
  return child;
}
async function runnerCount(s, name) {
  return (await (await fetch(`${s.base}/runners?namespace=default&name=${name}`)).json()).runners.length;
}
async function createActor(s, runnerName) {
  const r = await fetch(`${s.base}/actors?namespace=default`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "hws", key: `k-${Date.now()}-${Math.random()}`, runner_name_selector: runnerName, crash_policy: "restart" }) });
  assert.equal(r.status, 200);
  return (await r.json()).actor.actor_id;
}
async function actorOf(s, id) {
  return (await (await fetch(`${s.base}/actors/${id}?namespace=default`)).json()).actor;
}
// A client socket that records everything it hears, closes included.
async function openClient(s, id, path = "/chat") {
  const ws = new WebSocket(`${s.ws}/gateway/${id}${path}`);
  ws.heard = []; ws.closes = [];
  ws.on("message", (d) => ws.heard.push(d.toString()));
  ws.on("close", (code, reason) => ws.closes.push({ code, reason: reason.toString() }));
  await new Promise((res, rej) => { ws.once("open", res); ws.once("error", rej); });
  return ws;
}
const ev = (r, kind, actorId) => r.events.filter((e) => e.ev === kind && (!actorId || e.actorId === actorId));
// What the actor has persisted for its one socket, asked through the runner (KV in Redis).
async function persisted(r, id) {
  const n = r.events.length;
  r.send({ cmd: "state", id });
  const reply = await waitFor(() => r.events.slice(n).find((e) => e.ev === "state" && e.actorId === id), 3000, "state");
  return reply.persisted;
}
async function receivedBy(r, id) {
  const p = await persisted(r, id);
  return p.length === 1 ? p[0].received : null;
}
const hibKey = (s, id) => `${s.prefix}{a:${id}}:hib`;
const numbered = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`);

before(async () => {
  redisPort = await freePort();
  await startRedis();
  main = await startSett("hib", `hibernation = { eligible_threshold_ms = ${THRESHOLD} }`);
  limits = await startSett("lim", `hibernation = { eligible_threshold_ms = ${THRESHOLD}, max_pending_bytes = 4096, ack_timeout_ms = 600 },
    limits = { max_message_bytes = 4096 }`);
});

after(async () => {
  if (process.env.HIB_DEBUG) for (const c of children) console.error(JSON.stringify(c.events.filter((e) => e.ev !== "state").map((e) => e.ev === "msg" ? `${e.ev}:${e.index}:${e.data}` : e.ev === "start" ? `start:${e.generation}:${e.listed.length}:${e.persisted}` : e.ev === "error" ? `error:${e.error}` : e.ev)));
  setTimeout(() => process.exit(), 10000).unref();
  for (const c of children) { try { c.kill("SIGKILL"); } catch {} }
  process.on("exit", () => {
    for (const p of setts) if (running(p)) p.kill("SIGKILL");
    try { redis?.kill("SIGKILL"); } catch {}
  });
  await Promise.all([...setts].map((proc) => stopSett({ proc })));
  if (redis && running(redis)) redis.kill("SIGKILL");
});

test("an actor sleeps mid-stream, wakes on the client's messages, and gets each exactly once", async () => {
  const r = startRunner(main, "hib", "hib-1");
  await waitFor(async () => (await runnerCount(main, "hib")) === 1, 10000, "runner");
  const id = await createActor(main, "hib");
  const ws = await openClient(main, id);
  await waitFor(() => ev(r, "open", id).length === 1, 5000, "open");
  const sockId = ev(r, "open", id)[0].id;
  assert.equal(ev(r, "open", id)[0].hibernatable, true);

  for (const m of numbered(1, 20)) ws.send(m);
  await waitFor(async () => (await receivedBy(r, id))?.length === 20, 5000, "the first 20 persisted");

  // The keepalive row names the socket, and a refresh moves its score.
  const rows = await zrange(hibKey(main, id));
  assert.deepEqual(rows.map((x) => x.id), [sockId]);
  const firstScore = rows[0].score;
  await waitFor(async () => (await zrange(hibKey(main, id)))[0]?.score > firstScore, THRESHOLD * 2, "a fresher score");
  const ttl = Number(cli("PTTL", hibKey(main, id)));
  assert.ok(ttl > 0 && ttl <= THRESHOLD, `the row key expires within the threshold (pttl ${ttl})`);

  r.send({ cmd: "sleep", id });
  await waitFor(() => ev(r, "stop", id).length === 1, 5000, "stop");
  await waitFor(async () => (await actorOf(main, id)).sleep_ts, 5000, "sleeping");
  assert.equal(ws.readyState, WebSocket.OPEN);

  // Messages to the sleeping actor wake it; the start lists the socket and nothing is reopened.
  for (const m of numbered(21, 40)) { ws.send(m); await sleep(5); }
  await waitFor(() => ev(r, "start", id).length === 2, 8000, "the wake");
  assert.deepEqual(ev(r, "start", id)[1].listed, [sockId]);
  await waitFor(async () => (await receivedBy(r, id))?.length === 40, 8000, "all 40 persisted");
  assert.deepEqual(await receivedBy(r, id), numbered(1, 40));
  assert.deepEqual(ev(r, "msg", id).map((e) => e.data), numbered(1, 40), "each delivery once, in order");
  assert.deepEqual(ev(r, "msg", id).map((e) => e.index), Array.from({ length: 40 }, (_, i) => i + 1), "original indices");
  assert.equal(ev(r, "open", id).filter((e) => !e.restoring).length, 1, "no second open");

  // The socket works both ways after the wake, and its close removes the row.
  ws.send("echo:after");
  await waitFor(() => ws.heard.includes("echo:after"), 3000, "echo");
  assert.deepEqual(ws.closes, []);
  ws.close(1000);
  await waitFor(async () => (await zrange(hibKey(main, id))).length === 0, 3000, "row gone after close");
  r.kill("SIGKILL");
});

test("a client that closes while its actor sleeps loses its row and is not listed at the next start", async () => {
  const r = startRunner(main, "bye", "bye-1");
  await waitFor(async () => (await runnerCount(main, "bye")) === 1, 10000, "runner");
  const id = await createActor(main, "bye");
  const ws = await openClient(main, id);
  await waitFor(() => ev(r, "open", id).length === 1, 5000, "open");
  await waitFor(async () => (await zrange(hibKey(main, id))).length === 1, 2000, "row");
  r.send({ cmd: "sleep", id });
  await waitFor(async () => (await actorOf(main, id)).sleep_ts, 5000, "sleeping");
  ws.close(1000);
  await waitFor(async () => (await zrange(hibKey(main, id))).length === 0, 3000, "row deleted");
  assert.equal((await fetch(`${main.base}/gateway/${id}/wake`)).status, 200);
  await waitFor(() => ev(r, "start", id).length === 2, 5000, "the next start");
  assert.deepEqual(ev(r, "start", id)[1].listed, []);
  r.kill("SIGKILL");
});

test("the runner is killed mid-stream and a second runner takes the actor over", async () => {
  const r1 = startRunner(main, "pool", "pool-1");
  await waitFor(async () => (await runnerCount(main, "pool")) === 1, 10000, "first runner");
  const id = await createActor(main, "pool");
  const ws = await openClient(main, id);
  await waitFor(() => ev(r1, "open", id).length === 1, 5000, "open");
  const sockId = ev(r1, "open", id)[0].id;
  const r2 = startRunner(main, "pool", "pool-2");
  await waitFor(async () => (await runnerCount(main, "pool")) === 2, 10000, "second runner");

  for (let i = 1; i <= 80; i++) {
    ws.send(`m${i}`);
    if (i === 30) r1.kill("SIGKILL");
    await sleep(10);
  }
  await waitFor(() => ev(r2, "start", id).length === 1, 10000, "start on the second runner");
  assert.deepEqual(ev(r2, "start", id)[0].listed, [sockId]);
  await waitFor(async () => (await receivedBy(r2, id))?.length === 80, 10000, "all 80 persisted");
  assert.deepEqual(await receivedBy(r2, id), numbered(1, 80), "every message once and in order");
  assert.equal(ev(r2, "open", id).filter((e) => !e.restoring).length, 0, "no second open");
  ws.send("echo:moved");
  await waitFor(() => ws.heard.includes("echo:moved"), 3000, "echo");
  assert.deepEqual(ws.closes, []);
  ws.close(1000);
  r2.kill("SIGKILL");
});

test("Redis stopped during hibernation and started again: no socket dropped, rows back, messages delivered", async () => {
  const r = startRunner(main, "outage", "outage-1");
  await waitFor(async () => (await runnerCount(main, "outage")) === 1, 10000, "runner");
  const id = await createActor(main, "outage");
  const ws = await openClient(main, id);
  await waitFor(() => ev(r, "open", id).length === 1, 5000, "open");
  for (const m of numbered(1, 5)) ws.send(m);
  await waitFor(async () => (await receivedBy(r, id))?.length === 5, 5000, "the first 5 persisted");
  r.send({ cmd: "sleep", id });
  await waitFor(async () => (await actorOf(main, id)).sleep_ts, 5000, "sleeping");

  await stopRedis();
  await waitFor(async () => /sett_store_redis_up 0/.test(await (await fetch(`${main.admin}/metrics`)).text()), 3000, "store down");
  const down = Date.now();
  for (const m of numbered(6, 10)) ws.send(m);
  // A request that would have to start the actor is told at once that the store is away.
  const res = await fetch(`${main.base}/gateway/${id}/x`);
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.deepEqual([body.group, body.code], ["store", "unavailable"]);
  await sleep(THRESHOLD * 1.5);
  assert.equal(ws.readyState, WebSocket.OPEN, "the client is still connected");

  // An actor created while Redis is away is written once it is back; its write fails now, and
  // the failure is counted (writes in flight when Redis went away may or may not have been).
  const late = await createActor(main, "nobody");
  await waitFor(async () => /sett_store_errors_total\{store="redis",reason="(down|lost)"\} [1-9]/.test(await (await fetch(`${main.admin}/metrics`)).text()), 3000, "store errors counted");
  await startRedis();
  await waitFor(async () => (await zrange(hibKey(main, id))).some((x) => x.score > down), THRESHOLD, "the row rewritten within one period");
  await waitFor(() => cli("HGET", `${main.prefix}{a:${late}}`, "id") === late, 2000, "the missed actor record written");
  await waitFor(async () => (await receivedBy(r, id))?.length === 10, 15000, "all 10 persisted");
  assert.deepEqual(await receivedBy(r, id), numbered(1, 10));
  assert.deepEqual(ws.closes, []);
  ws.close(1000);
  r.kill("SIGKILL");
});

test("a 1 MiB message on a hibernatable socket is kept and replayed after the actor sleeps", async () => {
  // The default configuration: 128 MiB of pending bytes per socket, 32 MiB messages.
  const r = startRunner(main, "big", "big-1");
  await waitFor(async () => (await runnerCount(main, "big")) === 1, 10000, "runner");
  const id = await createActor(main, "big");
  const ws = await openClient(main, id);
  await waitFor(() => ev(r, "open", id).length === 1, 5000, "open");
  const mib = 1 << 20;
  ws.send("A".repeat(mib));
  await waitFor(async () => (await receivedBy(r, id))?.length === 1, 10000, "the first persisted");
  r.send({ cmd: "sleep", id });
  await waitFor(async () => (await actorOf(main, id)).sleep_ts, 5000, "sleeping");
  // Sent while the actor sleeps: kept by sett, it wakes the actor and is delivered once.
  ws.send("B".repeat(mib));
  await waitFor(() => ev(r, "start", id).length === 2, 8000, "the wake");
  await waitFor(async () => (await receivedBy(r, id))?.length === 2, 10000, "both persisted");
  assert.deepEqual(await receivedBy(r, id), [`big:${mib}:A`, `big:${mib}:B`]);
  assert.deepEqual(ev(r, "msg", id).map((e) => [e.index, e.data]), [[1, `big:${mib}:A`], [2, `big:${mib}:B`]]);
  assert.deepEqual(ws.closes, []);
  const m = await (await fetch(`${main.admin}/metrics`)).text();
  assert.match(m, /^gateway_pending_bytes 0$/m, "every message acked");
  ws.close(1000);
  r.kill("SIGKILL");
});

test("the pending cap and the ack timeout close with their codes", async () => {
  const r = startRunner(limits, "lim", "lim-1");
  await waitFor(async () => (await runnerCount(limits, "lim")) === 1, 10000, "runner");
  const capped = await createActor(limits, "lim");
  const slow = await createActor(limits, "lim");
  r.send({ cmd: "noack", id: capped });
  r.send({ cmd: "noack", id: slow });

  const a = await openClient(limits, capped);
  await waitFor(() => ev(r, "open", capped).length === 1, 5000, "open");
  for (let i = 0; i < 8; i++) a.send("x".repeat(1024));
  await waitFor(() => a.closes.length === 1, 5000, "close over the cap");
  assert.equal(a.closes[0].code, 1011);
  assert.match(a.closes[0].reason, /^guard\.websocket_pending_limit_reached/);

  const b = await openClient(limits, slow);
  await waitFor(() => ev(r, "open", slow).length === 1, 5000, "open");
  b.send("never acked");
  const t0 = Date.now();
  await waitFor(() => b.closes.length === 1, 5000, "close after the ack timeout");
  assert.ok(Date.now() - t0 >= 550, "not before the timeout");
  assert.equal(b.closes[0].code, 1011);
  assert.match(b.closes[0].reason, /^guard\.websocket_service_timeout/);
  r.kill("SIGKILL");
});

test("65,535 unacked messages is the most a socket keeps", async () => {
  const s = await startSett("cnt", "hibernation = { max_pending_bytes = 67108864 }");
  try {
    const r = startRunner(s, "cnt", "cnt-1");
    await waitFor(async () => (await runnerCount(s, "cnt")) === 1, 10000, "runner");
    const id = await createActor(s, "cnt");
    r.send({ cmd: "noack", id });
    const ws = await openClient(s, id);
    await waitFor(() => ev(r, "open", id).length === 1, 5000, "open");
    for (let i = 0; i < 65535; i++) ws.send("k");
    const sent = /gateway_tunnel_messages_total\{direction="to_runner",kind="websocket_message"\} (\d+)/;
    await waitFor(async () => Number((await (await fetch(`${s.admin}/metrics`)).text()).match(sent)?.[1]) === 65535, 10000, "all 65,535 through");
    assert.deepEqual(ws.closes, [], "65,535 are kept");
    ws.send("one more");
    await waitFor(() => ws.closes.length === 1, 5000, "close over the count");
    assert.equal(ws.closes[0].code, 1011);
    assert.match(ws.closes[0].reason, /^guard\.websocket_pending_limit_reached/);
    r.kill("SIGKILL");
  } finally {
    await stopSett(s);
  }
});

test("a row left behind by a gateway that died expires after the threshold", async () => {
  const r = startRunner(limits, "gone", "gone-1");
  await waitFor(async () => (await runnerCount(limits, "gone")) === 1, 10000, "runner");
  const id = await createActor(limits, "gone");
  const ws = await openClient(limits, id);
  await waitFor(() => ev(r, "open", id).length === 1, 5000, "open");
  await waitFor(async () => (await zrange(hibKey(limits, id))).length === 1, 2000, "row");
  limits.proc.kill("SIGKILL");
  await waitFor(async () => (await zrange(hibKey(limits, id))).length === 0, THRESHOLD * 2, "row expired");
  ws.terminate();
});

test("a restarted sett on Redis keeps namespaces, actors, keys and KV; actors come back asleep", async () => {
  const s = await startSett("rst");
  const r = startRunner(s, "rst", "rst-1");
  await waitFor(async () => (await runnerCount(s, "rst")) === 1, 10000, "runner");
  const ns = (await (await fetch(`${s.base}/namespaces`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "team", display_name: "Team" }) })).json()).namespace;
  const spec = { name: "room", key: "room-1", runner_name_selector: "rst", crash_policy: "sleep" };
  const created = await (await fetch(`${s.base}/actors?namespace=default`, { method: "PUT", headers: { "content-type": "application/json" },
    body: JSON.stringify(spec) })).json();
  assert.equal(created.created, true);
  const id = created.actor.actor_id;
  await waitFor(() => ev(r, "start", id).length === 1, 5000, "start");
  assert.equal((await ask(r, { cmd: "kvput", id, key: "color", value: "blue" })).error, null);

  await stopSett(s);
  await spawnSett(s);
  const again = await (await fetch(`${s.base}/actors?namespace=default`, { method: "PUT", headers: { "content-type": "application/json" },
    body: JSON.stringify(spec) })).json();
  assert.equal(again.created, false, "get-or-create finds the actor of the earlier run");
  assert.equal(again.actor.actor_id, id);
  assert.ok(again.actor.sleep_ts, "it is asleep");
  const nsAgain = (await (await fetch(`${s.base}/namespaces/${ns.namespace_id}`)).json()).namespace;
  assert.equal(nsAgain.name, "team");

  // The runner reconnects on its own; a request wakes the actor with the next generation, and
  // its KV is where it was.
  await waitFor(async () => (await runnerCount(s, "rst")) === 1, 15000, "runner back");
  assert.equal((await fetch(`${s.base}/gateway/${id}/x`)).status, 200);
  await waitFor(() => ev(r, "start", id).length === 2, 5000, "the wake");
  assert.equal(ev(r, "start", id)[1].generation, ev(r, "start", id)[0].generation + 1);
  assert.equal((await ask(r, { cmd: "kvget", id, key: "color" })).value, "blue");
  r.kill("SIGKILL");
});

test("sett.hibernation on Redis: a policy lists the store's rows and counts them, and caps sockets per actor on its local count", async () => {
  const polFile = join(tmp, "hib-policy.lua");
  writeFileSync(polFile, `local sett = require "sett"
local seen = sett.shared("hibtest")
return {
  route = function(req)
    local id = req.path:match("^/hibcount/(.+)$")
    if not id then return nil end
    sett.hibernation.list(id, function(rows, err)
      if not rows then seen:set(id, "err:" .. tostring(err)) return end
      local ids = {}
      for i, r in ipairs(rows) do
        ids[i] = r.gateway_id .. r.request_id
        if not (r.last_ping_ms > 0) then ids[i] = "bad-ping" end
      end
      table.sort(ids)
      seen:set(id, table.concat(ids, ","))
    end)
    sett.hibernation.count(id, function(n, err) seen:set(id .. "#n", n or -1) end)
    return { status = 200, headers = { ["content-type"] = "application/json" },
             body = sett.json.encode({ rows = seen:get(id) or "", n = seen:get(id .. "#n") or -1,
                                       here = sett.hibernation.local_count(id) }) }
  end,
  authorize = function(req, target)
    if req.headers.upgrade and sett.hibernation.local_count(target.actor_id) >= 2 then
      return { status = 429, headers = { ["content-type"] = "application/json" }, body = '{"group":"room","code":"full","message":"full"}' }
    end
    return true
  end,
}`);
  const s = await startSett("hpol", `hibernation = { eligible_threshold_ms = ${THRESHOLD} }, policy = "${polFile}"`);
  const r = startRunner(s, "hpol", "hpol-1");
  await waitFor(async () => (await runnerCount(s, "hpol")) === 1, 10000, "runner");
  const id = await createActor(s, "hpol");
  const count = async () => (await fetch(`${s.base}/hibcount/${id}`)).json();
  assert.deepEqual(await waitFor(async () => { const c = await count(); return c.n === 0 && c; }, 3000, "an empty count"),
    { rows: "", n: 0, here: 0 });
  const a = await openClient(s, id);
  const b = await openClient(s, id);
  await waitFor(() => ev(r, "open", id).length === 2, 5000, "two opens");
  const stored = async () => (await zrange(hibKey(s, id))).map((x) => x.id).sort().join(",");
  await waitFor(async () => (await stored()).split(",").length === 2, 3000, "two rows in Redis");
  const want = await stored();
  const c = await waitFor(async () => { const c = await count(); return c.n === 2 && c.rows === want && c; }, 3000, "the policy's view of the rows");
  assert.equal(c.here, 2);
  // A third socket is over the cap the policy set on this gateway's count: upgraded and closed
  // at once with the refusal's group and code, never reaching the actor.
  const third = await new Promise((res) => {
    const w = new WebSocket(`${s.ws}/gateway/${id}/chat`);
    w.once("unexpected-response", (_req, resp) => res(resp.statusCode));
    w.once("close", (code, reason) => res(`${code} ${reason}`));
    w.once("error", () => {});
  });
  assert.match(third, /^1011 room\.full#[0-9a-f]{8}$/);
  assert.equal(ev(r, "open", id).length, 2);
  a.close(1000);
  await waitFor(async () => { const c = await count(); return c.n === 1 && c.here === 1; }, 3000, "one socket left");
  b.close(1000);
  await waitFor(async () => { const c = await count(); return c.n === 0 && c.here === 0; }, 3000, "none left");
  r.kill("SIGKILL");
  await stopSett(s);
});
