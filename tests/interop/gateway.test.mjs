// The gateway with the real npm runner over real sockets: HTTP and WebSocket through the
// tunnel, the error paths, tunnel ping metrics, and a frozen runner's sockets being closed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, fork } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import net from "node:net";
import WebSocket from "ws";
import { freePort, waitFor } from "./util.mjs";

const here = dirname(new URL(import.meta.url).pathname);
const SETT = process.env.SETT_BIN ?? join(here, "../../build/sett");
const tmp = mkdtempSync(join(tmpdir(), "sett-gw-"));
let sett, runner, base, admin, wsBase, logFile;

async function createActor(name, runnerName = "gw") {
  const r = await fetch(`${base}/actors?namespace=default`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, key: `${name}-${Date.now()}-${Math.random()}`, runner_name_selector: runnerName, crash_policy: "restart" }) });
  assert.equal(r.status, 200);
  return (await r.json()).actor.actor_id;
}
function openWs(url, protocols) {
  return new Promise((res, rej) => { const ws = new WebSocket(url, protocols); ws.once("open", () => res(ws)); ws.once("error", rej); });
}
function nextMessage(ws) {
  return new Promise((res) => ws.once("message", (d, isBinary) => res({ d, isBinary })));
}
function closed(ws) {
  return new Promise((res) => ws.once("close", (code, reason) => res({ code, reason: reason.toString() })));
}
async function metrics() { return (await fetch(`${admin}/metrics`)).text(); }
function metric(text, name) { const m = text.match(new RegExp(`^${name} (\\S+)$`, "m")); return m ? Number(m[1]) : NaN; }

before(async () => {
  const [p, a] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${p}`; wsBase = `ws://127.0.0.1:${p}`; admin = `http://127.0.0.1:${a}`;
  const conf = join(tmp, "sett.lua");
  // Framing 20 MiB takes the runner (and a sanitizer build of sett) longer than the 700 ms the
  // 504 test waits for a response start: the actors that answer that much wait longer.
  const policy = join(tmp, "policy.lua");
  writeFileSync(policy, `local LONG = { big = true, streamer = true }
    return { name = "gateway-test", timeouts = function(actor)
      if LONG[actor.name] then return { response_start_timeout_ms = 60000 } end
    end }`);
  writeFileSync(conf, `return { listen = "127.0.0.1:${p}", admin_listen = "127.0.0.1:${a}",
    policy = "${policy}", timeout_bounds = { response_start_timeout_ms = { max = 60000 } },
    limits = { max_body_bytes = 65536 },
    runner = { ping_interval_ms = 200, ping_timeout_ms = 8000, lost_threshold_ms = 60000 },
    tunnel = { ping_interval_ms = 200, ping_timeout_ms = 1500 },
    gateway = { ready_timeout_ms = 500, response_start_timeout_ms = 700 } }`);
  logFile = join(tmp, "sett.log");
  const { openSync } = await import("node:fs");
  sett = spawn(SETT, ["run", conf], { stdio: ["ignore", "ignore", openSync(logFile, "w")] });
  await waitFor(() => fetch(`${admin}/health`).then((r) => r.ok), 5000, "sett");
  runner = fork(join(here, "gateway-runner.mjs"), [base, "gw"], { stdio: "ignore" });
  await waitFor(async () => (await (await fetch(`${base}/runners?namespace=default&name=gw`)).json()).runners.length === 1, 10000, "runner");
});

after(async () => {
  // Nothing the tests start may keep this process alive once they are done.
  setTimeout(() => process.exit(), 2000).unref();
  try { runner?.kill("SIGCONT"); runner?.kill("SIGKILL"); } catch {}
  if (sett) { sett.kill("SIGTERM"); await new Promise((r) => sett.once("exit", r)); }
});

test("HTTP GET and POST with body, query and headers round-trip", async () => {
  const id = await createActor("http");
  let r = await fetch(`${base}/gateway/${id}/hello/a%2Fb?x=1+2&y=%41`, { headers: { "x-test": "yes" } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("x-from-actor"), "1");
  let j = await r.json();
  assert.equal(j.actorId, id);
  assert.equal(j.method, "GET");
  assert.equal(j.path, "/hello/a%2Fb?x=1+2&y=%41");
  assert.equal(j.header, "yes");
  r = await fetch(`${base}/gateway/${id}/post`, { method: "POST", body: "x".repeat(30000) });
  j = await r.json();
  assert.equal(j.body.length, 30000);
  r = await fetch(`${base}/gateway/${id}/teapot`);
  assert.equal(r.status, 418);
  r = await fetch(`${base}/gateway/${id}/p`, { headers: { "x-rivet-target": "actor" } });
  assert.equal(r.status, 200);
  r = await fetch(`${base}/any/path?q=1`, { headers: { "x-rivet-target": "actor", "x-rivet-actor": id } });
  j = await r.json();
  assert.equal(j.path, "/any/path?q=1");
  r = await fetch(`${base}/gateway/${id}/x`, { method: "OPTIONS", headers: { origin: "http://o.example", "access-control-request-headers": "x-a" } });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get("access-control-allow-origin"), "http://o.example");
  // An actor's answer carries the gateway's CORS headers; the actor's own are replaced.
  r = await fetch(`${base}/gateway/${id}/own-cors`, { headers: { origin: "http://o.example" } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("access-control-allow-origin"), "http://o.example");
  assert.equal(r.headers.get("access-control-allow-credentials"), "true");
  assert.equal(r.headers.get("access-control-expose-headers"), "*");
  assert.equal(r.headers.get("vary"), "Origin");
  assert.equal(r.headers.get("x-from-actor"), "1");
  r = await fetch(`${base}/gateway/${id}/p`);
  assert.equal(r.headers.get("access-control-allow-origin"), "*");
  assert.equal(r.headers.get("vary"), null);
});

test("404, 413, 503 and 504 paths", async () => {
  let r = await fetch(`${base}/gateway/nosuchactor/x`);
  assert.equal(r.status, 404);
  assert.deepEqual({ group: (await r.json()).group }, { group: "actor" });
  const id = await createActor("errors");
  r = await fetch(`${base}/gateway/${id}/post`, { method: "POST", body: "x".repeat(70000) });
  assert.equal(r.status, 413);
  const pending = await createActor("pending", "no-such-runner");
  r = await fetch(`${base}/gateway/${pending}/x`);
  assert.equal(r.status, 503);
  assert.equal((await r.json()).code, "actor_ready_timeout");
  // A WebSocket to an actor that cannot start is closed with the same code, not left open.
  const ws = await openWs(`${wsBase}/gateway/${pending}/ws`);
  const c = await closed(ws);
  assert.equal(c.code, 1011);
  assert.match(c.reason, /^guard\.actor_ready_timeout#/);
  r = await fetch(`${base}/gateway/${id}/hang`);
  assert.equal(r.status, 504);
  assert.equal((await r.json()).code, "gateway_response_start_timeout");
});

test("a WebSocket to an unknown or destroyed actor is upgraded, then closed 1011 actor.not_found", async () => {
  const id = await createActor("doomed");
  const ws = await openWs(`${wsBase}/gateway/${id}/socket`, ["rivet", "rivet_encoding.bare"]);
  ws.send("before");
  assert.equal((await nextMessage(ws)).d.toString(), "before");
  const gone = closed(ws);
  assert.equal((await fetch(`${base}/actors/${id}?namespace=default`, { method: "DELETE" })).status, 200);
  assert.equal((await gone).code, 1000);
  // As Rivet's gateway answers (RivetKit re-resolves a stale handle on this reason): the
  // upgrade succeeds with the subprotocol a tunnelled socket gets, then the close comes at once.
  for (const target of [`/gateway/${id}/socket`, "/gateway/nosuchactor/socket"]) {
    const w = await openWs(`${wsBase}${target}`, ["rivet", "rivet_encoding.bare"]);
    assert.equal(w.protocol, "rivet");
    const c = await closed(w);
    assert.equal(c.code, 1011);
    assert.match(c.reason, /^actor\.not_found#[0-9a-f]{8}$/);
  }
  // Subprotocol routing to the destroyed actor closes the same way.
  const w = await openWs(`${wsBase}/any`, ["rivet", "rivet_target.actor", `rivet_actor.${encodeURIComponent(id)}`]);
  assert.match((await closed(w)).reason, /^actor\.not_found#/);
  // HTTP keeps its 404.
  const r = await fetch(`${base}/gateway/${id}/x`);
  assert.equal(r.status, 404);
  assert.equal((await r.json()).code, "not_found");
});

test("WebSocket echo, text and binary, 1 byte to 1 MiB, in order", async () => {
  const id = await createActor("ws");
  const ws = await openWs(`${wsBase}/gateway/${id}/socket`, ["rivet", "rivet_encoding.json"]);
  assert.equal(ws.protocol, "rivet");
  for (const size of [1, 125, 126, 65535, 65536, 1 << 20]) {
    const text = "t".repeat(size);
    ws.send(text);
    let m = await nextMessage(ws);
    assert.equal(m.isBinary, false);
    assert.equal(m.d.toString(), text);
    const bin = Buffer.alloc(size, 7);
    ws.send(bin);
    m = await nextMessage(ws);
    assert.equal(m.isBinary, true);
    assert.ok(Buffer.compare(m.d, bin) === 0);
  }
  const got = [];
  const all = new Promise((res) => ws.on("message", (d) => { got.push(d.toString()); if (got.length === 500) res(); }));
  for (let i = 0; i < 500; i++) ws.send(`m${i}`);
  await all;
  assert.deepEqual(got, Array.from({ length: 500 }, (_, i) => `m${i}`));
  const c = closed(ws);
  ws.close(4001, "client bye");
  assert.equal((await c).code, 4001);
});

test("close codes from the actor and subprotocol routing", async () => {
  const id = await createActor("wsclose");
  const ws = await openWs(`${wsBase}/any`, ["rivet", "rivet_target.actor", `rivet_actor.${encodeURIComponent(id)}`, "rivet_conn_params." + "p".repeat(300)]);
  ws.send("headers");
  const h = JSON.parse((await nextMessage(ws)).d.toString());
  assert.ok(h.protocols.includes("rivet_conn_params." + "p".repeat(300)));
  assert.equal(h.path, "/any");
  const c = closed(ws);
  ws.send("close:4002");
  const { code, reason } = await c;
  assert.equal(code, 4002);
  assert.equal(reason, "actor says bye");
});

test("tunnel pings are measured for open sockets", async () => {
  const id = await createActor("pings");
  const before = metric(await metrics(), "gateway_tunnel_ping_duration_count");
  const socks = await Promise.all([1, 2, 3].map(() => openWs(`${wsBase}/gateway/${id}/p`, ["rivet"])));
  await waitFor(async () => metric(await metrics(), "gateway_tunnel_ping_duration_count") >= before + 9, 5000, "pings");
  for (const s of socks) s.close();
});

test("a response body of exactly 20 MiB arrives whole; the runner refuses a larger one with 500", async () => {
  const id = await createActor("big");
  assert.equal((await fetch(`${base}/gateway/${id}/hello`)).status, 200);
  const max = 20 * 1024 * 1024; // the runner's MAX_PAYLOAD_SIZE
  const t0 = Date.now();
  const r = await fetch(`${base}/gateway/${id}/bytes/${max}`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-length"), String(max));
  const body = new Uint8Array(await r.arrayBuffer());
  assert.equal(body.length, max);
  let bad = -1;
  for (let i = 0; i < body.length; i++) if (body[i] !== i % 251) { bad = i; break; }
  assert.equal(bad, -1, `byte ${bad} differs`);
  // One byte more and the npm runner itself refuses to send it: it answers 500.
  const over = await fetch(`${base}/gateway/${id}/bytes/${max + 1}`);
  assert.equal(over.status, 500);
  assert.equal(await over.text(), "Internal Server Error");
  assert.ok(Date.now() - t0 < 30000, `took ${Date.now() - t0} ms`);
  // The runner kept its socket: the actor still answers.
  assert.equal((await fetch(`${base}/gateway/${id}/hello`)).status, 200);
});

test("a slow runner pauses its clients: memory stays bounded and nothing is lost", async () => {
  const id = await createActor("slow");
  const ws = await openWs(`${wsBase}/gateway/${id}/p`, ["rivet"]);
  ws.send("up");
  await nextMessage(ws);
  const rss = () => Number(readFileSync(`/proc/${sett.pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]) * 1024;
  const rss0 = rss();
  const got = [];
  // A close before all 96 echoes fails the test at once instead of leaving it waiting.
  const all = new Promise((res, rej) => {
    ws.on("message", (d) => { got.push(d); if (got.length === 96) res(); });
    ws.once("close", (code, reason) => rej(new Error(`closed ${code} ${reason} after ${got.length} echoes`)));
  });
  // Framing 96 MiB can take seconds on a loaded machine; the runner's ping timeout is long enough
  // for that, since a runner stopped for longer is disconnected and its sockets wait for the
  // lost-runner threshold.
  runner.kill("SIGSTOP");
  const mb = 1 << 20;
  for (let i = 0; i < 96; i++) ws.send(Buffer.alloc(mb, i));
  await new Promise((r) => setTimeout(r, 500));
  const grown = rss() - rss0;
  const held = ws.bufferedAmount;
  runner.kill("SIGCONT");
  await all;
  // Half of what the client sent at most: the rest waits in the client and the kernel.
  assert.ok(grown < 48 * mb, `sett grew by ${grown} bytes while its runner was stopped`);
  assert.ok(held > 24 * mb, `the client was not held back (${held} bytes buffered)`);
  for (let i = 0; i < 96; i++) assert.ok(got[i].length === mb && got[i][0] === i && got[i][mb - 1] === i, `message ${i}`);
  ws.close();
});

test("a frozen runner's sockets close with 1011 and leave nothing in flight", async () => {
  const id = await createActor("frozen");
  const socks = await Promise.all([1, 2].map(() => openWs(`${wsBase}/gateway/${id}/p`, ["rivet"])));
  // An echo proves the actor accepted each socket before the runner is frozen.
  for (const s of socks) { s.send("up"); await nextMessage(s); }
  const closes = socks.map(closed);
  const t0 = Date.now();
  runner.kill("SIGSTOP");
  const results = await Promise.all(closes);
  const took = Date.now() - t0;
  for (const r of results) {
    assert.equal(r.code, 1011);
    assert.match(r.reason, /^guard\.websocket_service_timeout#/);
  }
  // runner ping timeout 8000 + tunnel ping timeout 1500 + one interval 200, with slack.
  assert.ok(took < 8000 + 1500 + 200 + 1500, `closed after ${took} ms`);
  await waitFor(async () => {
    const m = await metrics();
    return metric(m, 'gateway_in_flight{kind="ws"}') === 0 && metric(m, 'gateway_in_flight{kind="http"}') === 0;
  }, 3000, "empty in-flight table");
  runner.kill("SIGCONT");
});

// A runner scripted with the npm protocol package, for what the npm runner never sends:
// streamed responses and aborts.
test("a streamed response arrives chunked, an abort is a 503, and REST errors are JSON", async () => {
  const proto = await import("@rivetkit/engine-runner-protocol");
  const ws = new WebSocket(`${wsBase}/runners/connect?protocol_version=7&namespace=default&runner_key=scripted`, ["rivet"]);
  await new Promise((res) => ws.once("open", res));
  const send = (m) => ws.send(proto.encodeToServer(m));
  const gens = new Map();
  let retryStarts = 0;
  // A response frame over sett's limit (21 MiB), which the npm runner never sends; encoding it
  // takes longer than the response start timeout on a loaded machine, so it is done now.
  const hugeFrame = proto.encodeToServer({ tag: "ToServerTunnelMessage", val: {
    messageId: { gatewayId: new ArrayBuffer(4), requestId: new ArrayBuffer(4), messageIndex: 0 },
    messageKind: { tag: "ToServerResponseStart", val: { status: 200, headers: new Map(), body: new ArrayBuffer(22 * 1024 * 1024), stream: false } } } });
  ws.on("message", (raw) => {
    const m = proto.decodeToClient(new Uint8Array(raw));
    if (m.tag === "ToClientPing") send({ tag: "ToServerPong", val: { ts: m.val.ts } });
    if (m.tag === "ToClientCommands") {
      for (const c of m.val) {
        if (c.inner.tag !== "CommandStartActor") continue;
        gens.set(c.checkpoint.actorId, c.checkpoint.generation);
        send({ tag: "ToServerEvents", val: [{ checkpoint: { actorId: c.checkpoint.actorId, generation: c.checkpoint.generation, index: 0n },
          inner: { tag: "EventActorStateUpdate", val: { state: { tag: "ActorStateRunning", val: null } } } }] });
      }
    }
    if (m.tag === "ToClientTunnelMessage" && m.val.messageKind.tag === "ToClientRequestStart") {
      const id = (i) => ({ gatewayId: m.val.messageId.gatewayId, requestId: m.val.messageId.requestId, messageIndex: i });
      const tm = (i, kind) => send({ tag: "ToServerTunnelMessage", val: { messageId: id(i), messageKind: kind } });
      const enc = (s) => new TextEncoder().encode(s).buffer;
      const actorId = m.val.messageKind.val.actorId;
      if (m.val.messageKind.val.path === "/huge") {
        // The frame encoded in advance gets this request's ids: bytes 1-8 follow the union tag.
        hugeFrame.set(new Uint8Array(m.val.messageId.gatewayId), 1);
        hugeFrame.set(new Uint8Array(m.val.messageId.requestId), 5);
        ws.send(hugeFrame);
      } else if (m.val.messageKind.val.path === "/abort") {
        tm(0, { tag: "ToServerResponseAbort", val: null });
      } else if (m.val.messageKind.val.path === "/retry" && ++retryStarts === 1) {
        // The actor crashes before answering: the gateway must retry on its next start.
        send({ tag: "ToServerEvents", val: [{ checkpoint: { actorId, generation: gens.get(actorId), index: 1n },
          inner: { tag: "EventActorStateUpdate", val: { state: { tag: "ActorStateStopped", val: { code: "Error", message: null } } } } }] });
      } else if (m.val.messageKind.val.path === "/retry") {
        tm(0, { tag: "ToServerResponseStart", val: { status: 200, headers: new Map(), body: enc("second try"), stream: false } });
      } else {
        tm(0, { tag: "ToServerResponseStart", val: { status: 200, headers: new Map([["content-type", "text/plain"]]), body: enc("one,"), stream: true } });
        setTimeout(() => tm(1, { tag: "ToServerResponseChunk", val: { body: enc("two,"), finish: false } }), 50);
        setTimeout(() => tm(2, { tag: "ToServerResponseChunk", val: { body: enc("three"), finish: true } }), 100);
      }
    }
  });
  send({ tag: "ToServerInit", val: { name: "scripted", version: 1, totalSlots: 4, prepopulateActorNames: null, metadata: null } });
  await waitFor(async () => (await (await fetch(`${base}/runners?namespace=default&name=scripted`)).json()).runners.length === 1, 5000, "scripted runner");
  const id = await createActor("streamer", "scripted");

  // A raw request shows the chunked framing itself.
  const raw = await new Promise((res, rej) => {
    const s = net.connect(Number(new URL(base).port), "127.0.0.1", () => s.write(`GET /gateway/${id}/stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let data = "";
    s.on("data", (d) => (data += d));
    s.on("end", () => res(data));
    s.on("error", rej);
  });
  assert.match(raw, /^HTTP\/1\.1 200 /);
  assert.match(raw, /Transfer-Encoding: chunked\r\n/i);
  assert.ok(raw.endsWith("4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n"), raw);

  // A response frame over the limit ends its request when it arrives (a 503, long before the
  // 504 of this actor's 60 s response start timeout), and the runner keeps its socket.
  const t0 = Date.now();
  const huge = await fetch(`${base}/gateway/${id}/huge`);
  assert.equal(huge.status, 503);
  assert.equal((await huge.json()).code, "tunnel_request_aborted");
  assert.ok(Date.now() - t0 < 20000, `answered after ${Date.now() - t0} ms`);
  assert.equal(metric(await metrics(), "sett_runner_oversized_tunnel_messages_total"), 1);
  assert.equal(ws.readyState, WebSocket.OPEN);

  const rt = await fetch(`${base}/gateway/${id}/retry`);
  assert.equal(rt.status, 200);
  assert.equal(await rt.text(), "second try");
  assert.equal(retryStarts, 2);

  const ab = await fetch(`${base}/gateway/${id}/abort`);
  assert.equal(ab.status, 503);
  assert.equal((await ab.json()).code, "tunnel_request_aborted");
  ws.close();

  // REST: bad JSON, unknown fields and bad values are 400 with {group, code, message}.
  for (const body of ["{", JSON.stringify({ name: "x", runner_name_selector: "r", crash_policy: "restart", colour: "blue" }),
                      JSON.stringify({ name: "x", runner_name_selector: "r", crash_policy: "sometimes" })]) {
    const r = await fetch(`${base}/actors?namespace=default`, { method: "POST", body });
    assert.equal(r.status, 400, body);
    const j = await r.json();
    assert.ok(j.group && j.code && j.message, JSON.stringify(j));
  }
  assert.equal((await fetch(`${base}/actors/nope`)).status, 404);
  assert.equal((await fetch(`${base}/actors?namespace=nope`)).status, 404);
  const ns = await fetch(`${base}/namespaces`, { method: "POST", body: JSON.stringify({ name: "team-a", display_name: "Team A" }) });
  assert.equal(ns.status, 200);
  assert.ok((await (await fetch(`${base}/namespaces`)).json()).namespaces.some((n) => n.name === "team-a"));
  const del = await fetch(`${base}/actors/${id}`, { method: "DELETE" });
  assert.equal(del.status, 200);
});

test("DELETE of a running actor answers {} every time, before and after its runner stops it", async () => {
  const id = await createActor("http");
  // The runner was frozen and resumed by the test before last; a start it takes longer than the
  // suite's 500 ms ready timeout to report is answered 503, so the actor is asked until it runs.
  await waitFor(async () => (await fetch(`${base}/gateway/${id}/hello`)).status === 200, 10000, "the actor running");
  // Rivet 2.3.5 answers 200 {} to every DELETE of an actor it has destroyed or is destroying.
  const del = async () => {
    const r = await fetch(`${base}/actors/${id}`, { method: "DELETE" });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {});
  };
  await del();
  await del();
  await waitFor(async () => (await (await fetch(`${base}/actors?namespace=default&actor_ids=${id}`)).json())
    .actors[0].destroy_ts > 0, 5000, "the actor destroyed");
  await del();
});
