// Policy hooks in the running gateway with the real npm runner: route answers, get-or-create by
// key, reload (good and broken) without dropping a socket, a runaway hook stopped by its time
// budget while the built-in routing answers, and sett.timer: a routing table a timer keeps up
// to date, and reloads that leave no timer behind.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, fork } from "node:child_process";
import { mkdtempSync, writeFileSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import WebSocket from "ws";
import { freePort, waitFor } from "./util.mjs";

const here = dirname(new URL(import.meta.url).pathname);
const SETT = process.env.SETT_BIN ?? join(here, "../../build/sett");
const tmp = mkdtempSync(join(tmpdir(), "sett-pol-"));
const policy = join(tmp, "policy.lua");
let sett, runner, base, admin, wsBase;

const ROUTE_V1 = `return {
  route = function(req)
    if req.path == "/teapot" then return { status = 418, headers = { ["x-policy"] = "v1" }, body = "short and stout" } end
    local room = req.path:match("^/rooms/([%w-]+)")
    if room then return { name = "room", key = room, runner = "pol" } end
    if req.path == "/spin" then while true do end end
  end,
}`;

before(async () => {
  const [p, a] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${p}`; wsBase = `ws://127.0.0.1:${p}`; admin = `http://127.0.0.1:${a}`;
  writeFileSync(policy, ROUTE_V1);
  const conf = join(tmp, "sett.lua");
  writeFileSync(conf, `return { listen = "127.0.0.1:${p}", admin_listen = "127.0.0.1:${a}", policy = "${policy}", policy_budget_ms = 20, timeout_bounds = { response_start_timeout_ms = { min = 100 } } }`);
  sett = spawn(SETT, ["run", conf], { stdio: ["ignore", "ignore", openSync(join(tmp, "sett.log"), "w")] });
  await waitFor(() => fetch(`${admin}/health`).then((r) => r.ok), 5000, "sett");
  runner = fork(join(here, "gateway-runner.mjs"), [base, "pol"], { stdio: "ignore" });
  await waitFor(async () => (await (await fetch(`${base}/runners?namespace=default&name=pol`)).json()).runners.length === 1, 10000, "runner");
});

after(async () => {
  setTimeout(() => process.exit(), 2000).unref();
  try { runner?.kill("SIGKILL"); } catch {}
  if (sett) { sett.kill("SIGTERM"); await new Promise((r) => sett.once("exit", r)); }
});

test("route answers directly and gets or creates actors by key", async () => {
  let r = await fetch(`${base}/teapot`);
  assert.equal(r.status, 418);
  assert.equal(r.headers.get("x-policy"), "v1");
  assert.equal(await r.text(), "short and stout");
  r = await fetch(`${base}/rooms/blue/hello?x=1`);
  assert.equal(r.status, 200);
  const first = await r.json();
  assert.equal(first.path, "/rooms/blue/hello?x=1");
  r = await fetch(`${base}/rooms/blue/again`);
  assert.equal((await r.json()).actorId, first.actorId);
  const list = await (await fetch(`${base}/actors?namespace=default&name=room&key=blue`)).json();
  assert.equal(list.actors.length, 1);
  // Paths the policy leaves alone get the built-in routing.
  assert.equal((await fetch(`${base}/elsewhere`)).status, 404);
});

test("a runaway hook is stopped by its budget and the built-in routing answers", async () => {
  const t0 = Date.now();
  const r = await fetch(`${base}/spin`);
  assert.equal(r.status, 404);
  assert.ok(Date.now() - t0 < 2000);
  const m = await (await fetch(`${admin}/metrics`)).text();
  assert.match(m, /sett_policy_hook_errors_total\{hook="route"\} [1-9]/);
});

test("reloads swap the policy without dropping sockets; a broken one is refused", async () => {
  const id = (await (await fetch(`${base}/rooms/green/x`)).json()).actorId;
  const ws = await new Promise((res, rej) => { const w = new WebSocket(`${wsBase}/gateway/${id}/s`, ["rivet"]); w.once("open", () => res(w)); w.once("error", rej); });
  let closedEarly = false;
  ws.once("close", () => { closedEarly = true; });
  writeFileSync(policy, "return { route = function( end }");
  let r = await fetch(`${admin}/admin/reload`, { method: "POST" });
  assert.equal(r.status, 422);
  assert.equal((await r.json()).code, "reload_failed");
  assert.equal((await fetch(`${base}/teapot`)).status, 418);
  writeFileSync(policy, ROUTE_V1.replace('"v1"', '"v2"'));
  r = await fetch(`${admin}/admin/reload`, { method: "POST" });
  assert.equal(r.status, 200);
  assert.equal((await fetch(`${base}/teapot`)).headers.get("x-policy"), "v2");
  ws.send("still here");
  const m = await new Promise((res) => ws.once("message", (d) => res(d.toString())));
  assert.equal(m, "still here");
  assert.equal(closedEarly, false);
  ws.close();
});

test("sett.core: a policy logs into sett's log, registers metrics on /metrics, reads runners and actors", async () => {
  const id = (await (await fetch(`${base}/rooms/core/x`)).json()).actorId;
  writeFileSync(policy, `local sett = require "sett"
local hits = sett.counter("policy_core_hits_total", "Requests the core test saw.", { route = "core" })
local lat = sett.histogram("policy_core_seconds", "A made-up duration.")
local seen = sett.gauge("policy_core_runners", "Runners called pol.")
sett.log("info", "core policy loading", { has_core = sett.has_core })
return {
  route = function(req)
    if req.path ~= "/core" then return nil end
    hits:inc(2)
    lat:observe(0.003)
    local runners = sett.runners.list("default", "pol")
    seen:set(#runners)
    local a = sett.actors.get(${JSON.stringify(id)})
    sett.log("warn", "core policy routed", { path = req.path, runners = #runners, actor_state = a and a.state, n = 7 })
    return { status = 200, body = string.format("%s %d %s %s %s", tostring(sett.has_core), #runners,
      runners[1] and runners[1].name or "-", a and a.name or "-", tostring(sett.now() > 1.6e12)) }
  end,
}`);
  let r = await fetch(`${admin}/admin/reload`, { method: "POST" });
  assert.equal(r.status, 200);
  r = await fetch(`${base}/core`);
  assert.equal(r.status, 200);
  assert.equal(await r.text(), "true 1 pol room true");
  const m = await (await fetch(`${admin}/metrics`)).text();
  assert.match(m, /# TYPE policy_core_hits_total counter\npolicy_core_hits_total\{route="core"\} 2\n/);
  assert.match(m, /policy_core_seconds_count 1\n/);
  assert.match(m, /policy_core_seconds_bucket\{le="0.005"\} 1\n/);
  assert.match(m, /policy_core_runners 1\n/);
  const log = readFileSync(join(tmp, "sett.log"), "utf8");
  assert.match(log, /level=info msg="core policy loading" has_core=true/);
  assert.match(log, /level=warn msg="core policy routed" actor_state=running n=7 path=\/core runners=1/);
  // sett's own metric names are refused: the load fails and the old policy stays.
  writeFileSync(policy, `local sett = require "sett"; sett.counter("sett_policy_calls_total", "x"); return {}`);
  r = await fetch(`${admin}/admin/reload`, { method: "POST" });
  assert.equal(r.status, 422);
  assert.match((await r.json()).message, /names starting with sett_ are sett's own/);
  assert.equal((await fetch(`${base}/core`)).status, 200);
});

test("sett.timer: a table a timer refreshes changes routing without a reload; reloads leave no timer behind", { timeout: 60000 }, async () => {
  // Every 20 ms the timer notes which runner names are connected; /pool routes to "pol2" once it
  // is there and answers 503 until then.
  const TIMED = `local sett = require "sett"
local names = {}
sett.timer.every(20, function()
  local t = {}
  for _, r in ipairs(sett.runners.list("default")) do if r.connected then t[r.name] = true end end
  names = t
end)
sett.timer.after(600000, function() end)
return {
  route = function(req)
    if req.path ~= "/pool" then return nil end
    if names.pol2 then return { name = "pooled", key = "one", runner = "pol2" } end
    return { status = 503, body = "no pol2 yet" }
  end,
}`;
  writeFileSync(policy, TIMED);
  let r = await fetch(`${admin}/admin/reload`, { method: "POST" });
  assert.equal(r.status, 200);
  r = await fetch(`${base}/pool`);
  assert.equal(r.status, 503);
  assert.equal(await r.text(), "no pol2 yet");
  const second = fork(join(here, "gateway-runner.mjs"), [base, "pol2"], { stdio: "ignore" });
  try {
    const answer = await waitFor(async () => { const x = await fetch(`${base}/pool`); return x.status === 200 && x.json(); }, 15000, "the timer to see pol2");
    assert.equal(answer.path, "/pool");
    // Each reload stops the old policy's two timers: after 100, only the last policy's are pending.
    for (let i = 0; i < 100; i++) {
      r = await fetch(`${admin}/admin/reload`, { method: "POST" });
      assert.equal(r.status, 200);
    }
    const m = await (await fetch(`${admin}/metrics`)).text();
    assert.match(m, /\nsett_policy_timers 2\n/);
    // The last policy's own timer fills its table again.
    await waitFor(async () => (await fetch(`${base}/pool`)).status === 200, 5000, "the last policy's timer");
    // A timer whose callback fails is logged and counted; the gateway goes on.
    writeFileSync(policy, `require("sett.timer").after(1, function() error("timer boom") end) return {}`);
    assert.equal((await fetch(`${admin}/admin/reload`, { method: "POST" })).status, 200);
    await waitFor(async () => /sett_policy_hook_errors_total\{hook="timer"\} 1\n/.test(await (await fetch(`${admin}/metrics`)).text()), 5000, "the timer error to be counted");
    assert.match(readFileSync(join(tmp, "sett.log"), "utf8"), /msg="policy callback failed" hook=timer error="[^"\n]*timer boom/);
    assert.match(await (await fetch(`${admin}/metrics`)).text(), /\nsett_policy_timers 0\n/);
  } finally {
    second.kill("SIGKILL");
  }
});

test("route's get-or-create names its namespace; an unknown one is the REST API's 404", async () => {
  writeFileSync(policy, `return { route = function(req)
  local ns, room = req.path:match("^/ns/([%w-]+)/([%w-]+)")
  if ns then return { name = "room", key = room, runner = "pol", namespace = ns } end
end }`);
  assert.equal((await fetch(`${admin}/admin/reload`, { method: "POST" })).status, 200);
  let r = await fetch(`${base}/ns/default/violet`);
  assert.equal(r.status, 200);
  const id = (await r.json()).actorId;
  const list = await (await fetch(`${base}/actors?namespace=default&name=room&key=violet`)).json();
  assert.deepEqual(list.actors.map((a) => a.actor_id), [id]);
  r = await fetch(`${base}/ns/nowhere/violet`);
  assert.equal(r.status, 404);
  assert.deepEqual(await r.json(), { group: "namespace", code: "not_found", message: "The namespace does not exist." });
});

test("authorize: a bad token gets 403 and a clear body, a good one reaches the actor, tokens stay out of the log", async () => {
  // The actor the first test created, found through the REST API (which authorize does not guard).
  const id = (await (await fetch(`${base}/actors?namespace=default&name=room&key=blue`)).json()).actors[0].actor_id;
  writeFileSync(policy, `return {
  route = function(req)
    local room = req.path:match("^/rooms/([%w-]+)")
    if room then return { name = "room", key = room, runner = "pol" } end
  end,
  authorize = function(req, target)
    if target.token == "s3cret-good" then return true end
    if target.token == "s3cret-crash" then error("cannot decide") end
    return false
  end,
}`);
  assert.equal((await fetch(`${admin}/admin/reload`, { method: "POST" })).status, 200);
  let r = await fetch(`${base}/gateway/${id}@s3cret-bad/hello`);
  assert.equal(r.status, 403);
  assert.deepEqual(await r.json(), { group: "policy", code: "forbidden", message: "The policy refused this request." });
  r = await fetch(`${base}/gateway/${id}/hello`);
  assert.equal(r.status, 403);
  r = await fetch(`${base}/gateway/${id}@s3cret-good/hello?q=1`);
  assert.equal(r.status, 200);
  assert.equal((await r.json()).path, "/hello?q=1");
  r = await fetch(`${base}/gateway/${id}/hello`, { headers: { "x-rivet-token": "s3cret-good" } });
  assert.equal(r.status, 200);
  // Routes the policy answers go through authorize too.
  assert.equal((await fetch(`${base}/rooms/blue/y`)).status, 403);
  // A WebSocket with a bad token never reaches the actor: it is upgraded (answering the
  // subprotocol) and closed at once, 1011 with the refusal's group and code, as Rivet closes.
  const refused = await new Promise((res) => {
    const w = new WebSocket(`${wsBase}/gateway/${id}@s3cret-bad/s`, ["rivet"]);
    w.once("unexpected-response", (_req, resp) => res(resp.statusCode));
    w.once("message", () => res("message"));
    w.once("close", (code, reason) => res(`${code} ${reason} ${w.protocol}`));
    w.once("error", () => {});
  });
  assert.match(refused, /^1011 policy\.forbidden#[0-9a-f]{8} rivet$/);
  // A hook that fails refuses (500) rather than letting the request through.
  r = await fetch(`${base}/gateway/${id}@s3cret-crash/hello`);
  assert.equal(r.status, 500);
  assert.equal((await r.json()).code, "authorize_failed");
  const log = readFileSync(join(tmp, "sett.log"), "utf8");
  assert.match(log, /hook=authorize/);
  assert.doesNotMatch(log, /s3cret/);
  writeFileSync(policy, ROUTE_V1);
  assert.equal((await fetch(`${admin}/admin/reload`, { method: "POST" })).status, 200);
});

test("route's ctx reaches authorize and timeouts of the same request; requests route did not see get their own table", { timeout: 30000 }, async () => {
  writeFileSync(policy, `return {
  route = function(req)
    local room = req.headers["x-room"]
    if room then return { name = "room", key = room, runner = "pol" }, { tenant = req.headers["x-tenant"] or "none" } end
  end,
  authorize = function(req, target)
    return not (req.ctx and req.ctx.tenant == "blocked")
  end,
  timeouts = function(actor, req)
    if req.ctx and req.ctx.tenant == "impatient" then return { response_start_timeout_ms = 300 } end
    if req.query == "impatient" then return { response_start_timeout_ms = 300 } end
  end,
}`);
  assert.equal((await fetch(`${admin}/admin/reload`, { method: "POST" })).status, 200);
  let r = await fetch(`${base}/x`, { headers: { "x-room": "ctx", "x-tenant": "blocked" } });
  assert.equal(r.status, 403);
  r = await fetch(`${base}/x`, { headers: { "x-room": "ctx", "x-tenant": "calm" } });
  assert.equal(r.status, 200);
  const id = (await r.json()).actorId;
  // The impatient tenant's request waits 300 ms for its answer (the configured 300 s for others).
  let t0 = Date.now();
  r = await fetch(`${base}/hang`, { headers: { "x-room": "ctx", "x-tenant": "impatient" } });
  assert.equal(r.status, 504);
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  const calm = new AbortController();
  const pending = fetch(`${base}/hang`, { headers: { "x-room": "ctx", "x-tenant": "calm" }, signal: calm.signal }).then((x) => x.status, () => "aborted");
  await new Promise((res) => setTimeout(res, 1000));
  calm.abort();
  assert.equal(await pending, "aborted");
  // The built-in route: no ctx, but timeouts sees the request (its query here).
  t0 = Date.now();
  r = await fetch(`${base}/gateway/${id}/hang?impatient`);
  assert.equal(r.status, 504);
  assert.ok(Date.now() - t0 < 5000);
  r = await fetch(`${base}/gateway/${id}/hello`);
  assert.equal(r.status, 200);
  writeFileSync(policy, ROUTE_V1);
  assert.equal((await fetch(`${admin}/admin/reload`, { method: "POST" })).status, 200);
});
