// Nothing leaks: 2,000 WebSocket open/echo/close cycles through the real npm runner and 2,000
// HTTP requests on new connections leave sett's resident memory within 3 MiB of where it had
// settled after a warm-up, and its open file descriptors where they were (/proc/PID). Run on
// the plain build only: a sanitizer's allocator keeps freed memory on purpose.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, fork } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import net from "node:net";
import WebSocket from "ws";
import { freePort, sleep, waitFor, running } from "./util.mjs";

const here = dirname(new URL(import.meta.url).pathname);
const SETT = process.env.SETT_BIN ?? join(here, "../../build/sett");
const tmp = mkdtempSync(join(tmpdir(), "sett-leak-"));
let sett, runner, base, wsBase, admin, port;

const rssKiB = () => Number(readFileSync(`/proc/${sett.pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m)[1]);
const fds = () => readdirSync(`/proc/${sett.pid}/fd`).length;

// One WebSocket through the tunnel: open, one echo, a close from the client, and its end.
function wsCycle(id) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${wsBase}/gateway/${id}/ws`);
    ws.once("open", () => ws.send("ping"));
    ws.once("message", (d) => { if (d.toString() !== "ping") reject(new Error(`echo: ${d}`)); ws.close(1000); });
    ws.once("close", () => resolve());
    ws.once("error", reject);
  });
}
// One HTTP request to the actor on a connection of its own.
function httpCycle(id) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    const chunks = [];
    sock.on("connect", () => sock.write(`GET /gateway/${id}/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`));
    sock.on("data", (d) => chunks.push(d));
    sock.on("error", reject);
    sock.on("close", () => {
      const text = Buffer.concat(chunks).toString();
      text.startsWith("HTTP/1.1 200 ") ? resolve() : reject(new Error(text.slice(0, 200)));
    });
  });
}
// n cycles, width at a time.
async function cycles(n, width, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => { while (next < n) { next++; await fn(); } }));
}

before(async () => {
  const a = await freePort();
  port = await freePort();
  base = `http://127.0.0.1:${port}`; wsBase = `ws://127.0.0.1:${port}`; admin = `http://127.0.0.1:${a}`;
  const conf = join(tmp, "sett.lua");
  writeFileSync(conf, `return { listen = "127.0.0.1:${port}", admin_listen = "127.0.0.1:${a}" }`);
  sett = spawn(SETT, ["run", conf], { stdio: ["ignore", "ignore", openSync(join(tmp, "sett.log"), "w")] });
  await waitFor(() => fetch(`${admin}/health`).then((r) => r.ok), 5000, "sett");
  runner = fork(join(here, "hostile-runner.mjs"), [base, "leak"], { stdio: "ignore" });
  await waitFor(async () => (await (await fetch(`${base}/runners?namespace=default&name=leak`)).json()).runners.length === 1, 10000, "runner");
});

after(async () => {
  setTimeout(() => process.exit(), 10000).unref();
  process.on("exit", () => { for (const p of [sett, runner]) if (p && running(p)) p.kill("SIGKILL"); });
  if (runner && running(runner)) runner.kill("SIGKILL");
  if (sett && running(sett)) { sett.kill("SIGTERM"); await new Promise((r) => sett.once("exit", r)); }
});

test("2,000 WebSocket cycles and 2,000 HTTP requests on new connections leak neither memory nor descriptors", async () => {
  const r = await fetch(`${base}/actors?namespace=default`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "leak", key: "leak-1", runner_name_selector: "leak", crash_policy: "restart" }) });
  const id = (await r.json()).actor.actor_id;
  // Warm up until buffers, pools and tables have their working size.
  await cycles(500, 10, () => wsCycle(id));
  await cycles(500, 10, () => httpCycle(id));
  await sleep(500);
  const rss0 = rssKiB(), fd0 = fds();
  const t0 = Date.now();
  await cycles(2000, 10, () => wsCycle(id));
  await cycles(2000, 10, () => httpCycle(id));
  const secs = (Date.now() - t0) / 1000;
  // Closes finish on sett's side a little after the client sees them.
  await waitFor(() => fds() <= fd0, 5000, `descriptors back to ${fd0} (now ${fds()})`);
  await sleep(500);
  const rss1 = rssKiB(), fd1 = fds();
  console.log(`leak: RSS ${rss0} KiB settled, ${rss1} KiB after 2,000 + 2,000 cycles in ${secs.toFixed(1)} s (${rss1 - rss0 >= 0 ? "+" : ""}${rss1 - rss0} KiB); descriptors ${fd0} then ${fd1}`);
  assert.ok(rss1 - rss0 <= 3 * 1024, `RSS grew by ${rss1 - rss0} KiB`);
  assert.ok(fd1 <= fd0, `descriptors ${fd0} then ${fd1}`);
  const text = await (await fetch(`${admin}/metrics`)).text();
  assert.match(text, /^gateway_in_flight\{kind="ws"\} 0$/m);
  assert.match(text, /^gateway_in_flight\{kind="http"\} 0$/m);
});
