// What the interop tests share: a free loopback port, a sleep, polling until a condition holds,
// and whether a child process still runs.
import net from "node:net";

export function freePort() {
  return new Promise((res) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); }); });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Calls fn every 25 ms until it returns a truthy value (a throw counts as not yet) and returns
// that value; after ms it fails, naming what it waited for.
export async function waitFor(fn, ms = 5000, what = "condition") {
  const end = Date.now() + ms;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch {}
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export const running = (p) => p.exitCode === null && p.signalCode === null;
