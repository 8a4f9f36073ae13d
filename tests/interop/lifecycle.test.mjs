// The runner endpoint and actor engine with the real npm runner: handshake, actors reaching
// Running, KV semantics, sleep and wake, a killed runner's actors moving, a quick reconnect
// keeping the runner, and misbehaving runners scripted with the npm protocol package.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, fork } from "node:child_process";
import { mkdtempSync, writeFileSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import net from "node:net";
import WebSocket from "ws";
import * as proto from "@rivetkit/engine-runner-protocol";
import { freePort, waitFor } from "./util.mjs";

const here = dirname(new URL(import.meta.url).pathname);
const SETT = process.env.SETT_BIN ?? join(here, "../../build/sett");
const tmp = mkdtempSync(join(tmpdir(), "sett-rn-"));
let sett, base, port, admin;
const children = [];

function startRunner(name, key, endpoint = base, env = {}) {
  const child = fork(join(here, "lifecycle-runner.mjs"), [endpoint, name, key], { stdio: "ignore", env: { ...process.env, ...env } });
  child.events = [];
  child.on("message", (m) => child.events.push(m));
  children.push(child);
  return child;
}
async function runners(name) {
  return (await (await fetch(`${base}/runners?namespace=default&name=${name}`)).json()).runners;
}
async function actor(id) {
  return (await (await fetch(`${base}/actors/${id}?namespace=default`)).json()).actor;
}
async function create(name, runnerName, crash = "restart") {
  const r = await fetch(`${base}/actors?namespace=default`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, runner_name_selector: runnerName, crash_policy: crash }) });
  assert.equal(r.status, 200);
  return (await r.json()).actor.actor_id;
}
const starts = (child, id) => child.events.filter((e) => e.ev === "start" && e.id === id);

before(async () => {
  port = await freePort();
  const a = await freePort();
  base = `http://127.0.0.1:${port}`;
  admin = `http://127.0.0.1:${a}`;
  const conf = join(tmp, "sett.lua");
  // The Init deadline is short for the test that waits for it, yet long enough that a 21 MiB
  // frame still arrives in full before it under the sanitizers on a loaded machine.
  writeFileSync(conf, `return { listen = "127.0.0.1:${port}", admin_listen = "127.0.0.1:${a}",
    runner = { init_timeout_ms = 1500, ping_interval_ms = 200, ping_timeout_ms = 3000, lost_threshold_ms = 2500 },
    gateway = { ready_timeout_ms = 5000 } }`);
  sett = spawn(SETT, ["run", conf], { stdio: ["ignore", "ignore", openSync(join(tmp, "sett.log"), "w")] });
  await waitFor(() => fetch(`${admin}/health`).then((r) => r.ok), 5000, "sett");
});

after(async () => {
  // Nothing the tests start may keep this process alive once they are done.
  setTimeout(() => process.exit(), 2000).unref();
  for (const c of children) { try { c.kill("SIGKILL"); } catch {} }
  if (sett) { sett.kill("SIGTERM"); await new Promise((r) => sett.once("exit", r)); }
});

test("a runner connects and an actor created over REST reaches Running with working KV", async () => {
  const r = startRunner("kv", "kv-1", base, { KV_CHECKS: "1" });
  await waitFor(async () => (await runners("kv")).length === 1, 8000, "runner listed");
  const id = await create("kvactor", "kv");
  await waitFor(async () => (await actor(id)).connectable_ts, 5000, "actor running");
  const kv = (await waitFor(() => r.events.find((e) => e.ev === "kv" && e.id === id), 5000, "kv results")).result;
  assert.deepEqual(kv.get, ["vb", null]);
  assert.deepEqual(kv.all, ["a", "b", "ba", "c", "d"]);
  assert.deepEqual(kv.reverseLimit, ["d", "c"]);
  assert.deepEqual(kv.rangeIncl, ["b", "ba", "c"]);
  assert.deepEqual(kv.rangeExcl, ["b", "ba"]);
  assert.deepEqual(kv.prefix, ["b", "ba"]);
  assert.deepEqual(kv.afterDelete, ["b", "ba", "c", "d"]);
  assert.deepEqual(kv.afterNoopRange, ["b", "ba", "c", "d"]);
  assert.deepEqual(kv.afterRange, ["c", "d"]);
  assert.deepEqual(kv.afterDrop, []);
  assert.match(kv.bigKey, /key too large/);
  // Each runner's RTT and last pong are exported.
  const rid = (await runners("kv"))[0].runner_id;
  await waitFor(async () => {
    const m = await (await fetch(`${admin}/metrics`)).text();
    return m.includes(`sett_runner_last_pong_timestamp_seconds{runner_id="${rid}"`) &&
      m.includes(`sett_runner_rtt_seconds{runner_id="${rid}"`);
  }, 3000, "per-runner metrics");
});

test("sleep via sleepActor, then a request wakes the actor with a higher generation", async () => {
  const r = startRunner("sleepy", "sleepy-1");
  await waitFor(async () => (await runners("sleepy")).length === 1, 8000, "runner");
  const id = await create("sleeper", "sleepy");
  await waitFor(() => starts(r, id).length === 1, 5000, "first start");
  r.send({ cmd: "sleep", id });
  await waitFor(async () => (await actor(id)).sleep_ts, 5000, "sleeping");
  const res = await fetch(`${base}/gateway/${id}/wake`);
  assert.equal(res.status, 200);
  const s = starts(r, id);
  assert.equal(s.length, 2);
  assert.equal(s[1].generation, s[0].generation + 1);
});

test("a killed runner is lost and its actors move to a second runner", async () => {
  const r1 = startRunner("pool", "pool-1");
  await waitFor(async () => (await runners("pool")).length === 1, 8000, "first runner");
  const id = await create("mover", "pool");
  await waitFor(() => starts(r1, id).length === 1, 5000, "start on the first runner");
  const r2 = startRunner("pool", "pool-2");
  await waitFor(async () => (await runners("pool")).length === 2, 8000, "second runner");
  r1.kill("SIGKILL");
  await waitFor(() => starts(r2, id).length === 1, 8000, "rescheduled on the second runner");
  await waitFor(async () => (await actor(id)).connectable_ts, 5000, "running again");
  assert.equal((await runners("pool")).length, 1);
});

test("a quick reconnect keeps the runner id and does not restart running actors", async () => {
  // The runner reaches sett through a proxy whose connections the test can cut.
  const proxyPort = await freePort();
  const sockets = new Set();
  const proxy = net.createServer((c) => {
    const up = net.connect(port, "127.0.0.1");
    c.pipe(up); up.pipe(c);
    sockets.add(c); sockets.add(up);
    const drop = () => { c.destroy(); up.destroy(); };
    c.on("error", drop); up.on("error", drop); c.on("close", drop); up.on("close", drop);
  });
  await new Promise((res) => proxy.listen(proxyPort, "127.0.0.1", res));
  const r = startRunner("recon", "recon-1", `http://127.0.0.1:${proxyPort}`);
  await waitFor(async () => (await runners("recon")).length === 1, 8000, "runner");
  const before = (await runners("recon"))[0].runner_id;
  const id = await create("stayer", "recon");
  await waitFor(() => starts(r, id).length === 1, 5000, "start");
  // Cut only once sett has the actor's Running event: cut earlier, the event can be lost with
  // the socket, the actor is still starting when the runner returns, and its start is resent,
  // as the reference engine resends every unacked command.
  await waitFor(async () => (await actor(id)).connectable_ts, 5000, "running");
  for (const s of sockets) s.destroy();
  sockets.clear();
  await waitFor(() => r.events.filter((e) => e.ev === "connected").length >= 2, 8000, "reconnect");
  await new Promise((res) => setTimeout(res, 300));
  assert.equal((await runners("recon"))[0].runner_id, before);
  assert.equal(starts(r, id).length, 1);
  assert.ok((await actor(id)).connectable_ts);
  proxy.close();
});

function rawRunner(query = "protocol_version=7&namespace=default&runner_key=raw", protocols = ["rivet"]) {
  return new WebSocket(`ws://127.0.0.1:${port}/runners/connect?${query}`, protocols);
}
function closeOf(ws) {
  return new Promise((res) => ws.once("close", (code, reason) => res({ code, reason: reason.toString() })));
}
const init = (name) => proto.encodeToServer({ tag: "ToServerInit", val: { name, version: 1, totalSlots: 1, prepopulateActorNames: null, metadata: null } });

test("misbehaving runners are closed with the right code; others are undisturbed", async () => {
  const good = startRunner("calm", "calm-1");
  await waitFor(async () => (await runners("calm")).length === 1, 8000, "calm runner");
  const pingBefore = (await runners("calm"))[0].last_ping_ts;

  let ws = rawRunner();
  let c = await closeOf(ws);
  assert.equal(c.code, 1011);
  assert.match(c.reason, /^ws\.timed_out_waiting_for_init#/);

  ws = rawRunner();
  await new Promise((res) => ws.once("open", res));
  ws.send(Buffer.from([0xff, 0x00, 0x13]));
  c = await closeOf(ws);
  assert.equal(c.code, 1011);
  assert.match(c.reason, /^ws\.invalid_packet#/);

  ws = rawRunner();
  await new Promise((res) => ws.once("open", res));
  ws.send(Buffer.alloc(22 * 1024 * 1024, 6)); // over the 21 MiB frame limit
  c = await closeOf(ws);
  assert.equal(c.code, 1011);
  assert.match(c.reason, /^ws\.invalid_packet#/);

  // Two sockets with the same key: the older one is evicted.
  const a = rawRunner("protocol_version=7&namespace=default&runner_key=dup");
  await new Promise((res) => a.once("open", res));
  a.send(init("dup"));
  await new Promise((res) => a.once("message", res));
  const ac = closeOf(a);
  const b = rawRunner("protocol_version=7&namespace=default&runner_key=dup");
  const bmsgs = [];
  b.on("message", (m) => bmsgs.push(proto.decodeToClient(new Uint8Array(m)).tag));
  await new Promise((res) => b.once("open", res));
  b.send(init("dup"));
  c = await ac;
  assert.equal(c.code, 1000);
  assert.match(c.reason, /^ws\.eviction#/);
  await waitFor(() => bmsgs.length > 0, 3000, "init for the newer socket");
  assert.equal(bmsgs[0], "ToClientInit");
  b.close();

  // Bad query parameters and unknown namespaces are refused before the upgrade.
  for (const [q, status] of [["namespace=default&runner_key=x", 400],
                             ["protocol_version=6&namespace=default&runner_key=x", 400],
                             ["protocol_version=7&namespace=nope&runner_key=x", 404]]) {
    ws = rawRunner(q);
    const st = await new Promise((res) => ws.once("unexpected-response", (_req, resp) => res(resp.statusCode)));
    assert.equal(st, status, q);
  }

  // The well-behaved runner kept answering pings throughout.
  await waitFor(async () => (await runners("calm"))[0].last_ping_ts > pingBefore, 3000, "calm runner pings");
  assert.equal(good.exitCode, null);
});

test("a runner token is required when configured", async () => {
  const p = await freePort(), a = await freePort();
  const conf = join(tmp, "token.lua");
  writeFileSync(conf, `return { listen = "127.0.0.1:${p}", admin_listen = "127.0.0.1:${a}", runner = { token = "s3cret" } }`);
  const s = spawn(SETT, ["run", conf], { stdio: "ignore" });
  try {
    await waitFor(() => fetch(`http://127.0.0.1:${a}/health`).then((r) => r.ok), 5000, "second sett");
    const status = (protocols) => new Promise((res) => {
      const ws = new WebSocket(`ws://127.0.0.1:${p}/runners/connect?protocol_version=7&namespace=default&runner_key=t`, protocols);
      ws.once("unexpected-response", (_q, r) => res(r.statusCode));
      ws.once("open", () => { ws.close(); res(101); });
    });
    assert.equal(await status(["rivet"]), 401);
    assert.equal(await status(["rivet", "rivet_token.wrong"]), 403);
    assert.equal(await status(["rivet", "rivet_token.s3cret"]), 101);
  } finally {
    s.kill("SIGTERM");
    await new Promise((r) => s.once("exit", r));
  }
});
