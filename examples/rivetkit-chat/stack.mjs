// Starts the example's processes: build/sett with the memory store, and app.mjs (the RivetKit
// runner and the page server) on the Node it is run with. run.mjs (`make example`) and the tests
// share it. stop() ends both, and every start failure stops what had started.
import { spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import net from "node:net";

const here = dirname(new URL(import.meta.url).pathname);
export const root = join(here, "../..");

export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

export async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {}
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopChild(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const t = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(t);
      res();
    });
    child.kill("SIGTERM");
  });
}

// opts: ports (sett, admin, page; 0 or missing for free ones), sleepMs (the rooms' idle sleep),
// logs ("inherit" to show the processes' output, else they go to files in a temporary
// directory, kept when opts.keep is set).
export async function startStack(opts = {}) {
  const tmp = mkdtempSync(join(tmpdir(), "sett-chat-"));
  const port = opts.settPort || (await freePort());
  const admin = opts.adminPort || (await freePort());
  const pagePort = opts.pagePort || (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  const out = (name) => (opts.logs === "inherit" ? "inherit" : openSync(join(tmp, `${name}.log`), "w"));
  const stack = { tmp, endpoint, admin: `http://127.0.0.1:${admin}`, page: `http://127.0.0.1:${pagePort}/`, sett: null, app: null };

  // A test killed mid-run (a timeout) or Ctrl-C still ends both processes.
  const onExit = () => {
    for (const c of [stack.app, stack.sett]) if (c && c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  };
  process.once("exit", onExit);
  stack.stop = async () => {
    process.removeListener("exit", onExit);
    await stopChild(stack.app);
    await stopChild(stack.sett);
    if (!opts.keep) rmSync(tmp, { recursive: true, force: true });
  };
  stack.log = (name) => {
    try {
      return readFileSync(join(tmp, `${name}.log`), "utf8");
    } catch {
      return "";
    }
  };

  try {
    const conf = join(tmp, "sett.lua");
    writeFileSync(conf, `return { listen = "127.0.0.1:${port}", admin_listen = "127.0.0.1:${admin}",
      store = { kind = "memory" }, log = { level = "info" } }`);
    const bin = process.env.SETT_BIN ?? join(root, "build/sett");
    stack.sett = spawn(bin, ["run", conf], { stdio: ["ignore", out("sett"), out("sett")] });
    await waitFor(() => fetch(`${stack.admin}/health`).then((r) => r.ok), 10000, "sett");

    stack.app = spawn(process.execPath, [join(here, "app.mjs")], {
      cwd: here,
      stdio: ["ignore", out("app"), out("app")],
      env: {
        ...process.env,
        RIVET_ENDPOINT: endpoint,
        RIVET_NAMESPACE: "default",
        PAGE_PORT: String(pagePort),
        CHAT_SLEEP_TIMEOUT_MS: String(opts.sleepMs ?? process.env.CHAT_SLEEP_TIMEOUT_MS ?? 30000),
        RIVET_LOG_LEVEL: process.env.RIVET_LOG_LEVEL ?? "warn",
      },
    });
    // Ready when RivetKit's runner has registered with sett and the page answers.
    await waitFor(async () => {
      const r = await fetch(`${endpoint}/runners?namespace=default`);
      return r.ok && (await r.json()).runners?.length > 0;
    }, 30000, "the app's runner");
    await waitFor(() => fetch(stack.page).then((r) => r.ok), 10000, "the page server");
    return stack;
  } catch (e) {
    e.message += `\n--- sett log ---\n${stack.log("sett").slice(-3000)}\n--- app log ---\n${stack.log("app").slice(-3000)}`;
    await stack.stop();
    throw e;
  }
}

// The room's actor as sett's REST API lists it (null before it exists).
export async function roomActor(stack, room) {
  // RivetKit joins a key's parts with "/"; a room name without "/" or "\\" is its own key.
  const key = encodeURIComponent(room);
  const r = await fetch(`${stack.endpoint}/actors?namespace=default&name=chatRoom&key=${key}`);
  if (!r.ok) throw new Error(`GET /actors: ${r.status} ${await r.text()}`);
  return (await r.json()).actors[0] ?? null;
}
