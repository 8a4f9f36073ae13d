// Configuration reload in the running gateway with the real npm runner: live keys take effect
// (body limit, ready timeout, default runner, log level, policy path, CORS origins), restart-only keys are
// reported and keep their running value, a broken file changes nothing (422), SIGHUP and a
// change of the file reload too, and get-or-create without a runner name picks the one runner
// name connected.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, fork } from "node:child_process";
import { mkdtempSync, writeFileSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import http from "node:http";
import { freePort, waitFor } from "./util.mjs";

const here = dirname(new URL(import.meta.url).pathname);
const SETT = process.env.SETT_BIN ?? join(here, "../../build/sett");
const tmp = mkdtempSync(join(tmpdir(), "sett-rcfg-"));
const conf = join(tmp, "sett.lua");
const pol1 = join(tmp, "one.lua");
const pol2 = join(tmp, "two.lua");
const logPath = join(tmp, "sett.log");
let sett, runner, base, admin, mainPort, adminPort;

// The configuration file, written from a Lua table body (without the braces).
function writeConf(extra = "", { listen = `127.0.0.1:${mainPort}`, policy = pol1 } = {}) {
  writeFileSync(conf, `return { listen = "${listen}", admin_listen = "127.0.0.1:${adminPort}",
    ${policy ? `policy = "${policy}",` : ""} ${extra} }`);
}
const reload = async () => { const r = await fetch(`${admin}/admin/reload`, { method: "POST" }); return [r.status, await r.json()]; };
// A POST of n bytes on a new connection: limits apply to connections accepted after a reload.
function post(path, n) {
  return new Promise((res, rej) => {
    const rq = http.request(`${base}${path}`, { method: "POST", agent: false, headers: { "content-length": n } }, (r) => { r.resume(); r.on("end", () => res(r.statusCode)); });
    rq.on("error", rej);
    rq.end("x".repeat(n));
  });
}

before(async () => {
  [mainPort, adminPort] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${mainPort}`; admin = `http://127.0.0.1:${adminPort}`;
  // Rooms are created without a runner name: the gateway picks one.
  writeFileSync(pol1, `return { route = function(req)
    local room = req.path:match("^/rooms/([%w-]+)")
    if room then return { name = "room", key = room } end
    if req.path == "/which" then return { status = 200, body = "one" } end
  end }`);
  writeFileSync(pol2, `return { route = function(req)
    if req.path == "/which" then return { status = 200, body = "two" } end
  end }`);
  writeConf();
  sett = spawn(SETT, ["run", conf], { stdio: ["ignore", "ignore", openSync(logPath, "w")] });
  await waitFor(() => fetch(`${admin}/health`).then((r) => r.ok), 5000, "sett");
  runner = fork(join(here, "gateway-runner.mjs"), [base, "pool-a"], { stdio: "ignore" });
  await waitFor(async () => (await (await fetch(`${base}/runners?namespace=default&name=pool-a`)).json()).runners.length === 1, 10000, "runner");
});

after(async () => {
  setTimeout(() => process.exit(), 2000).unref();
  try { runner?.kill("SIGKILL"); } catch {}
  if (sett) { sett.kill("SIGTERM"); await new Promise((r) => sett.once("exit", r)); }
});

test("get-or-create without runner= uses the one runner name connected", async () => {
  const r = await fetch(`${base}/rooms/blue/hi`);
  assert.equal(r.status, 200);
  const { actorId } = await r.json();
  const a = await (await fetch(`${base}/actors/${actorId}?namespace=default`)).json();
  assert.equal(a.actor.runner_name_selector, "pool-a");
  // With two runner names connected there is no safe guess: 500 naming them, until one leaves.
  // The second name holds a quote, a backslash and a control byte, which the error body escapes.
  const nameB = 'pool-"b\\\u0001';
  const b = fork(join(here, "gateway-runner.mjs"), [base, nameB], { stdio: "ignore" });
  try {
    await waitFor(async () => (await (await fetch(`${base}/runners?namespace=default&name=${encodeURIComponent(nameB)}`)).json()).runners.length === 1, 10000, "runner b");
    const r2 = await fetch(`${base}/rooms/green/hi`);
    assert.equal(r2.status, 500);
    const e = JSON.parse(await r2.text());
    assert.equal(e.code, "no_runner");
    const names = e.message.match(/several runner names are connected \((.*)\); set/)?.[1].split(", ").sort();
    assert.deepEqual(names, [nameB, "pool-a"].sort());
    // An actor that exists is found by its key whatever runs.
    assert.equal((await fetch(`${base}/rooms/blue/hi`)).status, 200);
  } finally {
    b.kill("SIGKILL");
  }
  await waitFor(async () => (await fetch(`${base}/rooms/green/hi`)).status === 200, 10000, "runner b gone");
});

test("live keys take effect at a reload; restart-only keys are reported and keep running", async () => {
  assert.equal(await post("/rooms/blue/echo", 5000), 200);
  writeConf(`limits = { max_body_bytes = 1000 }, log = { level = "debug" }`, { listen: "127.0.0.1:1" });
  const [status, rep] = await reload();
  assert.equal(status, 200);
  assert.equal(rep.policy, "reloaded");
  assert.deepEqual(rep.restart_required, ["listen"]);
  assert.ok(rep.changed.includes("limits.max_body_bytes"), JSON.stringify(rep));
  assert.ok(rep.changed.includes("log.level"), JSON.stringify(rep));
  // The body limit applies to the next connection; the listener still serves the old address.
  assert.equal(await post("/rooms/blue/echo", 5000), 413);
  assert.equal(await post("/rooms/blue/echo", 500), 200);
  const log = readFileSync(logPath, "utf8");
  assert.match(log, /level=warn msg="configuration keys changed that take effect only after a restart" keys=listen/);
  assert.match(log, /level=info msg=reloaded .*changed=.*limits.max_body_bytes/);
  const m = await (await fetch(`${admin}/metrics`)).text();
  assert.match(m, /sett_config_reloads_total [1-9]/);
  assert.match(m, /sett_reload_duration_seconds_count [1-9]/);
});

test("a broken configuration changes nothing and answers 422 with the errors", async () => {
  writeConf(`limits = { max_body_bytes = "big" }, colour = 1`, { policy: pol2 });
  const [status, rep] = await reload();
  assert.equal(status, 422);
  assert.equal(rep.group, "config");
  assert.equal(rep.code, "reload_failed");
  assert.match(rep.message, /colour: unknown key/);
  assert.match(rep.message, /limits.max_body_bytes: expected an integer, got "big"/);
  // The old limit and the old policy stay.
  assert.equal(await post("/rooms/blue/echo", 5000), 413);
  assert.equal(await (await fetch(`${base}/which`)).text(), "one");
  // A configuration naming a broken policy is refused as a whole, too.
  writeFileSync(join(tmp, "broken.lua"), "return { route = 5 }");
  writeConf(`limits = { max_body_bytes = 100000 }`, { policy: join(tmp, "broken.lua") });
  const [s2, rep2] = await reload();
  assert.equal(s2, 422);
  assert.equal(rep2.group, "policy");
  assert.equal(await post("/rooms/blue/echo", 5000), 413);
  assert.match(await (await fetch(`${admin}/metrics`)).text(), /sett_config_reload_errors_total [1-9]/);
});

test("the policy path, the default runner and the ready timeout change live; SIGHUP reloads", async () => {
  writeConf(`gateway = { default_runner = "nobody", ready_timeout_ms = 300 }`, { policy: pol2 });
  sett.kill("SIGHUP");
  await waitFor(async () => (await (await fetch(`${base}/which`)).text()) === "two", 3000, "policy two");
  // pol2 has no rooms: back to pol1 with a default runner no runner has.
  writeConf(`gateway = { default_runner = "nobody", ready_timeout_ms = 300 }`);
  const [status, rep] = await reload();
  assert.equal(status, 200);
  assert.ok(rep.changed.includes("policy"), JSON.stringify(rep));
  const t0 = Date.now();
  const r = await fetch(`${base}/rooms/red/x`);
  assert.equal(r.status, 503);
  assert.equal((await r.json()).code, "actor_ready_timeout");
  assert.ok(Date.now() - t0 < 2000, "the new ready timeout applied");
  // Existing actors are found by key whatever the default.
  assert.equal((await fetch(`${base}/rooms/blue/x`)).status, 200);
});

test("a change of the configuration file reloads it; removing the policy goes back to built-in", async () => {
  writeConf("", { policy: null });
  await waitFor(async () => (await fetch(`${base}/which`)).status === 404, 3000, "policy removed");
  const [status, rep] = await reload();
  assert.equal(status, 200);
  assert.equal(rep.policy, "none");
});

test("timeouts answers are clamped to timeout_bounds, which change at a reload", async () => {
  const pol3 = join(tmp, "three.lua");
  writeFileSync(pol3, `return {
    route = function(req) if req.path == "/hang" then return { name = "room", key = "blue" } end end,
    timeouts = function(actor) return { response_start_timeout_ms = 1 } end,
  }`);
  const timed = async () => { const t = Date.now(); const r = await fetch(`${base}/hang`); return [r.status, Date.now() - t]; };
  writeConf(`timeout_bounds = { response_start_timeout_ms = { min = 600 } }`, { policy: pol3 });
  let [status, rep] = await reload();
  assert.equal(status, 200);
  assert.ok(rep.changed.includes("timeout_bounds.response_start_timeout_ms"), JSON.stringify(rep));
  let [code, ms] = await timed();
  assert.equal(code, 504);
  assert.ok(ms >= 550 && ms < 3000, `clamped up to the configured minimum: ${ms} ms`);
  writeConf(`timeout_bounds = { response_start_timeout_ms = { min = 50 } }`, { policy: pol3 });
  [status] = await reload();
  assert.equal(status, 200);
  [code, ms] = await timed();
  assert.equal(code, 504);
  assert.ok(ms < 500, `the new minimum applies: ${ms} ms`);
});

test("cors.origins changes at a reload", async () => {
  const origin = (o) => fetch(`${base}/namespaces`, { headers: { origin: o } }).then((r) => r.headers.get("access-control-allow-origin"));
  writeConf();
  await reload();
  assert.equal(await origin("https://a.example"), "https://a.example");
  writeConf(`cors = { origins = { "https://b.example" } }`);
  const [status, rep] = await reload();
  assert.equal(status, 200);
  assert.ok(rep.changed.includes("cors.origins"), JSON.stringify(rep));
  assert.equal(await origin("https://a.example"), null);
  assert.equal(await origin("https://b.example"), "https://b.example");
  writeConf();
  await reload();
  assert.equal(await origin("https://a.example"), "https://a.example");
});
