// Hostile and careless clients against the real binary and the real npm runner: a runner is
// admitted while clients fill limits.max_connections (clients over it get 503); a client that
// stops reading while its actor floods it is closed 1008 while another socket of the same actor
// and the runner's socket keep flowing; and no token (runner, API, admin, an actor's @token)
// ever reaches the log or the metrics, whatever is refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, fork } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import net from "node:net";
import WebSocket from "ws";
import { freePort, sleep, waitFor, running } from "./util.mjs";

const here = dirname(new URL(import.meta.url).pathname);
const SETT = process.env.SETT_BIN ?? join(here, "../../build/sett");
const tmp = mkdtempSync(join(tmpdir(), "sett-hostile-"));
// Every process this file starts, stopped at the end whatever failed.
const setts = new Set(), runners = new Set();
const TOKENS = { runner: "run-s3cret-1", api: "api-s3cret-2", admin: "adm-s3cret-3", actor: "act-s3cret-4", wrong: "wrong-s3cret-5" };
let main;


async function startSett(name, extra) {
  const [p, a] = [await freePort(), await freePort()];
  const conf = join(tmp, `${name}.lua`);
  writeFileSync(conf, `return { listen = "127.0.0.1:${p}", admin_listen = "127.0.0.1:${a}",
    runner = { ping_interval_ms = 200, ping_timeout_ms = 5000 }, ${extra} }`);
  const log = join(tmp, `${name}.log`);
  const proc = spawn(SETT, ["run", conf], { stdio: ["ignore", "ignore", openSync(log, "w")] });
  setts.add(proc);
  const s = { proc, log, port: p, base: `http://127.0.0.1:${p}`, ws: `ws://127.0.0.1:${p}`, admin: `http://127.0.0.1:${a}` };
  await waitFor(() => fetch(`${s.admin}/health`).then((r) => r.ok), 5000, `sett ${name}`);
  return s;
}
function startRunner(s, name, token) {
  const child = fork(join(here, "hostile-runner.mjs"), [s.base, name, ...(token ? [token] : [])], { stdio: "ignore" });
  runners.add(child);
  return child;
}
async function metrics(s) { return (await fetch(`${s.admin}/metrics`)).text(); }
function metric(text, series) {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line ? Number(line.slice(series.length + 1)) : NaN;
}
// One request on its own connection, closed after the answer; resolves to { status, body }.
function rawRequest(port, head, body = "") {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    const chunks = [];
    sock.on("connect", () => sock.write(Buffer.isBuffer(head) ? head : head + body));
    sock.on("data", (d) => chunks.push(d));
    sock.on("error", reject);
    sock.on("close", () => {
      const text = Buffer.concat(chunks).toString();
      resolve({ status: Number(text.slice(9, 12)), body: text.slice(text.indexOf("\r\n\r\n") + 4) });
    });
  });
}
// A socket that has had one keep-alive request answered and stays open.
function heldConnection(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    sock.on("connect", () => sock.write("GET /health HTTP/1.1\r\nHost: h\r\n\r\n"));
    sock.once("data", (d) => (d.toString().startsWith("HTTP/1.1 200 ") ? resolve(sock) : reject(new Error(d.toString()))));
    sock.on("error", reject);
  });
}
async function createActor(s, runnerName, headers = {}) {
  const r = await fetch(`${s.base}/actors?namespace=default`, { method: "POST", headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ name: "h", key: `k-${Date.now()}-${Math.random()}`, runner_name_selector: runnerName, crash_policy: "restart" }) });
  assert.equal(r.status, 200);
  return (await r.json()).actor.actor_id;
}
function openWs(url, protocols) {
  return new Promise((res, rej) => { const ws = new WebSocket(url, protocols); ws.once("open", () => res(ws)); ws.once("error", rej); });
}
async function echo(ws, text) {
  const got = new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`no echo of ${text}`)), 20000);
    ws.once("message", (d) => { clearTimeout(t); res(d.toString()); });
  });
  ws.send(text);
  return got;
}

before(async () => {
  main = await startSett("main", `log = { level = "debug" },
    limits = { max_output_bytes = 4194304 },
    runner = { ping_interval_ms = 200, ping_timeout_ms = 5000, token = "${TOKENS.runner}" },
    api = { token = "${TOKENS.api}" }, admin = { token = "${TOKENS.admin}" }`);
  startRunner(main, "hr", TOKENS.runner);
  await waitFor(async () => metric(await metrics(main), "sett_runners_connected") === 1, 10000, "runner");
});

after(async () => {
  setTimeout(() => process.exit(), 10000).unref();
  process.on("exit", () => { for (const p of [...setts, ...runners]) if (running(p)) p.kill("SIGKILL"); });
  for (const p of runners) if (running(p)) p.kill("SIGKILL");
  await Promise.all([...setts].filter(running).map((p) => { p.kill("SIGTERM"); return new Promise((r) => p.once("exit", r)); }));
});

test("a runner is admitted while clients fill limits.max_connections; clients over it get 503", async () => {
  const s = await startSett("caps", `limits = { max_connections = 3 }`);
  const held = await Promise.all([1, 2, 3].map(() => heldConnection(s.port)));
  const over = await rawRequest(s.port, "GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.equal(over.status, 503);
  assert.deepEqual(JSON.parse(over.body), { group: "http", code: "too_many_connections", message: "too many connections" });
  const r = startRunner(s, "capped");
  await waitFor(async () => metric(await metrics(s), "sett_runners_connected") === 1, 10000, "the runner, over the cap");
  // The held connections were not touched, and one leaving makes room for a client again.
  held[0].destroy();
  await waitFor(async () => (await rawRequest(s.port, "GET /health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")).status === 200, 3000, "room again");
  for (const h of held) h.destroy();
  const text = await metrics(s);
  assert.equal(metric(text, 'sett_refusals_total{reason="too_many_connections"}'), 1);
  assert.match(readFileSync(s.log, "utf8"), /msg=refused reason=too_many_connections peer=127\.0\.0\.1/);
  r.kill("SIGKILL");
});

test("a client that stops reading is closed 1008 while the actor's other socket and the runner flow on", async () => {
  const auth = { authorization: `Bearer ${TOKENS.api}` };
  const id = await createActor(main, "hr", auth);
  const slow = await openWs(`${main.ws}/gateway/${id}/ws`);
  const other = await openWs(`${main.ws}/gateway/${id}/ws`);
  assert.equal(await echo(other, "before"), "before");
  const closed = new Promise((res) => slow.once("close", (code, reason) => res({ code, reason: reason.toString() })));
  slow._socket.pause();
  slow.send("flood:1024:65536");
  await waitFor(async () => metric(await metrics(main), 'sett_refusals_total{reason="output_limit"}') === 1, 30000, "the cut");
  // The peer has a few seconds to take what was already on its way, then the close frame.
  slow._socket.resume();
  assert.deepEqual(await closed, { code: 1008, reason: "guard.output_limit" });
  assert.equal(await echo(other, "after"), "after");
  assert.equal(metric(await metrics(main), "sett_runners_connected"), 1);
  other.close();
});

test("no token reaches the log or the metrics", async () => {
  const auth = { authorization: `Bearer ${TOKENS.api}` };
  // Refused and accepted uses of each token.
  assert.equal((await fetch(`${main.base}/actors?namespace=default`)).status, 401);
  assert.equal((await fetch(`${main.base}/actors?namespace=default`, { headers: { authorization: `Bearer ${TOKENS.wrong}` } })).status, 403);
  const id = await createActor(main, "hr", auth);
  assert.equal((await fetch(`${main.base}/gateway/${id}@${TOKENS.actor}/x?token=${TOKENS.actor}`)).status, 200);
  const ws = await openWs(`${main.ws}/gateway/${id}@${TOKENS.actor}/ws`, ["rivet", `rivet_token.${TOKENS.actor}`]);
  assert.equal(await echo(ws, "hi"), "hi");
  ws.close();
  const refused = await rawRequest(main.port, "GET /runners/connect?protocol_version=7&namespace=default&runner_key=k HTTP/1.1\r\n" +
    `Host: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
    `Sec-WebSocket-Protocol: rivet, rivet_token.${TOKENS.wrong}\r\n\r\n`);
  assert.equal(refused.status, 403);
  assert.equal((await fetch(`${main.admin}/admin/reload`, { method: "POST", headers: { authorization: `Bearer ${TOKENS.wrong}` } })).status, 403);
  assert.equal((await fetch(`${main.admin}/admin/reload`, { method: "POST", headers: { authorization: `Bearer ${TOKENS.admin}` } })).status, 200);
  // Malformed requests carrying tokens are refused and logged without them.
  assert.equal((await rawRequest(main.port, `GET /gateway/${id}@${TOKENS.actor}/x HTTP/1.1\r\nHost: h\r\nHost: h\r\nAuthorization: Bearer ${TOKENS.api}\r\n\r\n`)).status, 400);
  const text = await metrics(main);
  assert.ok(metric(text, 'sett_refusals_total{reason="runner_refused"}') >= 1);
  assert.ok(metric(text, 'sett_refusals_total{reason="bad_request"}') >= 1);
  await sleep(200);
  const log = readFileSync(main.log, "utf8");
  assert.match(log, /msg=refused reason=runner_refused/);
  for (const [what, tok] of Object.entries(TOKENS)) {
    assert.ok(!log.includes(tok), `the ${what} token is in the log`);
    assert.ok(!text.includes(tok), `the ${what} token is in the metrics`);
  }
});

test("header values keep their tabs and their Latin-1 bytes (RivetKit's non-ASCII connection parameters)", async () => {
  const auth = { authorization: `Bearer ${TOKENS.api}` };
  const id = await createActor(main, "hr", auth);
  // fetch sends each character of a header string as one byte, as RivetKit sends its JSON
  // connection parameters on stateless actions; the actor reads the same string back.
  const params = JSON.stringify({ name: "Jürgen", city: "Zürich ©" });
  const r = await fetch(`${main.base}/gateway/${id}/headers`, { headers: { "x-rivet-conn-params": params, "x-tab": "a\tb" } });
  assert.equal(r.status, 200);
  const seen = await r.json();
  assert.equal(seen["x-rivet-conn-params"], params);
  assert.deepEqual(JSON.parse(seen["x-rivet-conn-params"]), { name: "Jürgen", city: "Zürich ©" });
  assert.equal(seen["x-tab"], "a\tb");
  // On a raw socket: a tab inside a value is kept, a Latin-1 byte arrives as its character.
  const head = Buffer.concat([Buffer.from(`GET /gateway/${id}/headers HTTP/1.1\r\nHost: h\r\nConnection: close\r\n` +
    "X-Tab: one\ttwo\t three\r\nX-Latin: "), Buffer.from([0x66, 0xfc, 0x72]), Buffer.from("\r\n\r\n")]);
  const raw = await rawRequest(main.port, head);
  assert.equal(raw.status, 200);
  const got = JSON.parse(raw.body);
  assert.equal(got["x-tab"], "one\ttwo\t three");
  assert.equal(got["x-latin"], "für");
  // Another control byte is no field content (RFC 9110 section 5.5): the request is refused.
  assert.equal((await rawRequest(main.port, `GET /gateway/${id}/headers HTTP/1.1\r\nHost: h\r\nX-Ctl: a\x01b\r\n\r\n`)).status, 400);
});
