// Cross-checks sett's runner-protocol v7 codec against the published TypeScript codec,
// @rivetkit/engine-runner-protocol 2.2.1 (what @rivetkit/engine-runner 2.2.1 speaks):
//
//  a. random messages of every top-level type, built and encoded by the npm package, are decoded
//     by `sett proto decode` (the JSON must be exactly the npm value's JSON form) and encoded
//     again by `sett proto encode` (the bytes must be identical);
//  b. random messages built on the Lua side and encoded by sett's Lua binding (build/lua/sett/
//     proto.so) decode with the npm package to the value Lua meant, and re-encode identically;
//  c. mutated frames (cut, changed, inserted, dropped and appended bytes) are accepted by sett
//     exactly when the npm decoder accepts them, and then decode to the same value.
//
//   node tests/interop/proto-crosscheck.mjs [--sett build/sett] [--luajit luajit]
//        [--cpath 'build/lua/?.so'] [--count 1000] [--seed 1] [--preload LIBS]
//
// --preload sets LD_PRELOAD for luajit alone: a sanitizer build's proto.so needs the sanitizer
// runtimes loaded first, and an uninstrumented luajit does not load them itself.
// Prints a summary and exits 1 on any mismatch.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");

const opts = { sett: join(root, "build/sett"), luajit: "luajit", cpath: join(root, "build/lua/?.so"),
  count: 1000, seed: 1, preload: "" };
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, "");
  if (!(key in opts) || i + 1 >= process.argv.length) {
    console.error("usage: node proto-crosscheck.mjs [--sett PATH] [--luajit PATH] [--cpath PATTERN] [--count N] [--seed N] [--preload LIBS]");
    process.exit(2);
  }
  opts[key] = typeof opts[key] === "number" ? Number(process.argv[i + 1]) : process.argv[i + 1];
}

if (!existsSync(join(here, "node_modules/@rivetkit/engine-runner-protocol/package.json"))) {
  console.error("proto-crosscheck: tests/interop/node_modules is missing; run `npm ci` in tests/interop first");
  process.exit(1);
}
const proto = await import("@rivetkit/engine-runner-protocol");
const pkg = JSON.parse(readFileSync(join(here, "node_modules/@rivetkit/engine-runner-protocol/package.json"), "utf8"));

// The schema ---------------------------------------------------------------------------------

// A small parser for the subset of the BARE schema language that schemas/ uses.
function parseSchema(text) {
  const toks = [];
  for (const line of text.split("\n")) {
    const code = line.replace(/#.*/, "");
    for (const m of code.matchAll(/[A-Za-z_][A-Za-z0-9_]*|\d+|[<>{}\[\]|:=]/g)) toks.push(m[0]);
  }
  let pos = 0;
  const take = () => toks[pos++];
  const expect = (t) => { const got = take(); if (got !== t) throw new Error(`schema: expected ${t}, got ${got}`); };
  const accept = (t) => (toks[pos] === t ? (pos++, true) : false);
  function type() {
    const w = take();
    if (w === "struct") {
      expect("{");
      const fields = [];
      while (!accept("}")) { const name = take(); expect(":"); fields.push({ name, type: type() }); }
      return { kind: "struct", fields };
    }
    if (w === "union") {
      expect("{");
      const members = [];
      let tag = 0;
      accept("|");
      do { const name = take(); if (accept("=")) tag = Number(take()); members.push({ name, tag: tag++ }); } while (accept("|"));
      expect("}");
      return { kind: "union", members };
    }
    if (w === "enum") {
      expect("{");
      const values = [];
      let v = 0;
      while (!accept("}")) { const name = take(); if (accept("=")) v = Number(take()); values.push({ name, value: v++ }); }
      return { kind: "enum", values };
    }
    if (w === "list") { expect("<"); const of = type(); expect(">"); return { kind: "list", of }; }
    if (w === "optional") { expect("<"); const of = type(); expect(">"); return { kind: "optional", of }; }
    if (w === "map") { expect("<"); const key = type(); expect(">"); expect("<"); const val = type(); expect(">"); return { kind: "map", key, val }; }
    if (w === "data" && accept("[")) { const len = Number(take()); expect("]"); return { kind: "fixed", len }; }
    if (w === "void") return { kind: "void" };
    if (["u8", "u16", "u32", "u64", "i64", "bool", "str", "data"].includes(w)) return { kind: "prim", prim: w };
    return { kind: "ref", name: w };
  }
  const types = {};
  while (pos < toks.length) { expect("type"); const name = take(); types[name] = type(); }
  return types;
}

const schema = parseSchema(readFileSync(join(root, "schemas/runner-protocol/v7.bare"), "utf8"));
const resolveType = (t) => (t.kind === "ref" ? schema[t.name] : t);
const enumName = (n) => n.split("_").map((w) => w[0] + w.slice(1).toLowerCase()).join("");

const TOP = [
  { name: "ToServer", cli: "to-server", encode: proto.encodeToServer, decode: proto.decodeToServer, versioned: false },
  { name: "ToClient", cli: "to-client", encode: proto.encodeToClient, decode: proto.decodeToClient, versioned: false },
  { name: "ToRunner", cli: "to-runner", encode: proto.encodeToRunner, decode: proto.decodeToRunner, versioned: true },
  { name: "ToGateway", cli: "to-gateway", encode: proto.encodeToGateway, decode: proto.decodeToGateway, versioned: true },
];

// vbare's embedded version: a 2-byte little-endian prefix.
function encodeFrame(top, value) {
  const body = top.encode(value);
  if (!top.versioned) return Uint8Array.from(body);
  const out = new Uint8Array(body.length + 2);
  out[0] = 7;
  out.set(body, 2);
  return out;
}
function decodeFrame(top, bytes) {
  if (!top.versioned) return top.decode(bytes);
  if (bytes.length < 2) throw new Error("payload too short for embedded version");
  if ((bytes[0] | (bytes[1] << 8)) !== 7) throw new Error("unsupported version");
  return top.decode(bytes.subarray(2));
}

// Random values in the npm package's shapes ----------------------------------------------------

let state = opts.seed >>> 0 || 1;
function rand() { // xorshift32, in [0, 1)
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (xs) => xs[int(xs.length)];

const CHARS = ["a", "b", "z", "A", "0", "9", " ", "-", "/", "\"", "\\", "\n", "\t", "\u0000", "\u0001",
  "\u001f", "\u007f", "é", "ß", "€", "中", "\u2028", "\uffff", "😀", "𝄞", "\u{10ffff}", "\ufeff"];
function randomString() {
  const len = rand() < 0.05 ? 100 + int(200) : int(12);
  let s = "";
  for (let i = 0; i < len; i++) s += pick(CHARS);
  // TextDecoder drops a leading U+FEFF from strings of 256 bytes or more, so the npm decoder
  // would not give back what it encoded; keep it out of first place.
  return s.startsWith("\ufeff") ? "x" + s : s;
}
function randomBytes(len) {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = int(256);
  return b.buffer;
}
function randomDataLen() {
  const r = rand();
  if (r < 0.2) return 0;
  if (r < 0.9) return 1 + int(40);
  if (r < 0.995) return 100 + int(500);
  return 16000 + int(60000);
}
const U64_EDGES = [0n, 1n, 127n, 128n, 255n, 65535n, 4294967295n, 4294967296n, 2n ** 53n - 1n, 2n ** 53n,
  2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];
const I64_EDGES = [0n, 1n, -1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n), -(2n ** 53n) - 1n,
  2n ** 63n - 1n, -(2n ** 63n), 1700000000000n];
function randomBig(signed) {
  if (rand() < 0.5) return pick(signed ? I64_EDGES : U64_EDGES);
  let v = 0n;
  for (let i = 0; i < 4; i++) v = (v << 16n) | BigInt(int(65536));
  v >>= BigInt(int(64));
  return signed ? BigInt.asIntN(64, v) : v;
}
function randomCount(max) {
  const r = rand();
  if (r < 0.3) return 0;
  if (r < 0.97) return 1 + int(max);
  return 17 + int(140); // a two-byte count, and maps large enough for the duplicate-key hash set
}
function randomMapKeys(n) {
  const keys = new Set();
  while (keys.size < n) keys.add(randomString() + (rand() < 0.5 ? "" : String(keys.size)));
  return [...keys];
}

function randomValue(t, forceMember) {
  t = resolveType(t);
  switch (t.kind) {
    case "prim":
      switch (t.prim) {
        case "u8": return pick([0, 1, 255, int(256)]);
        case "u16": return pick([0, 1, 255, 256, 65535, int(65536)]);
        case "u32": return pick([0, 1, 127, 128, 4294967295, int(4294967296)]);
        case "u64": return randomBig(false);
        case "i64": return randomBig(true);
        case "bool": return rand() < 0.5;
        case "str": return randomString();
        case "data": return randomBytes(randomDataLen());
      }
      break;
    case "fixed": return randomBytes(t.len);
    case "enum": return enumName(pick(t.values).name);
    case "optional": return rand() < 0.4 ? null : randomValue(t.of);
    case "list": {
      const n = randomCount(3);
      const out = [];
      for (let i = 0; i < n; i++) out.push(randomValue(t.of));
      return out;
    }
    case "map": {
      const m = new Map();
      for (const k of randomMapKeys(randomCount(4))) m.set(k, randomValue(t.val));
      return m;
    }
    case "struct": {
      const o = {};
      for (const f of t.fields) o[f.name] = randomValue(f.type);
      return o;
    }
    case "union": {
      const m = forceMember ?? pick(t.members);
      const mt = schema[m.name];
      return { tag: m.name, val: mt.kind === "void" ? null : randomValue({ kind: "ref", name: m.name }) };
    }
  }
  throw new Error("cannot generate " + JSON.stringify(t));
}

// The JSON form `sett proto` prints, written from an npm value. Map order is kept.
const SAFE = 2n ** 53n;
function hexOf(buf) { return Buffer.from(buf).toString("hex"); }
function toJson(v, t) {
  t = resolveType(t);
  switch (t.kind) {
    case "prim":
      switch (t.prim) {
        case "u64": case "i64": {
          const b = BigInt(v);
          return (b < 0n ? -b : b) <= SAFE ? b.toString() : JSON.stringify(b.toString());
        }
        case "str": return JSON.stringify(v);
        case "data": return JSON.stringify(hexOf(v));
        default: return JSON.stringify(v);
      }
    case "fixed": return JSON.stringify(hexOf(v));
    case "enum": return JSON.stringify(v);
    case "list": return "[" + v.map((x) => toJson(x, t.of)).join(",") + "]";
    case "map": return "{" + [...v].map(([k, x]) => JSON.stringify(k) + ":" + toJson(x, t.val)).join(",") + "}";
    case "struct":
      return "{" + t.fields.map((f) => {
        const opt = f.type.kind === "optional";
        const x = v[f.name];
        return JSON.stringify(f.name) + ":" + (opt && x == null ? "null" : toJson(x, opt ? f.type.of : f.type));
      }).join(",") + "}";
    case "union": {
      const void_ = schema[v.tag].kind === "void";
      return `{"tag":${JSON.stringify(v.tag)},"val":${void_ ? "null" : toJson(v.val, { kind: "ref", name: v.tag })}}`;
    }
  }
  throw new Error("cannot write " + JSON.stringify(t));
}

// Running sett ----------------------------------------------------------------------------------

function run(cmd, args, input, env) {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30, encoding: "utf8", env: { ...process.env, ...env } });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r;
}

function settBatch(mode, top, lines) {
  const r = run(opts.sett, ["proto", mode, top.cli, "--keep-going"], lines.join("\n") + "\n");
  if (r.status === 2 || r.stdout === "") {
    throw new Error(`sett proto ${mode} ${top.cli} failed (status ${r.status}): ${r.stderr.trim()}`);
  }
  const out = r.stdout.split("\n");
  out.pop();
  if (out.length !== lines.length) throw new Error(`sett proto ${mode}: ${out.length} lines out for ${lines.length} in`);
  return out;
}

const failures = [];
const counts = {};
function fail(what, detail) {
  failures.push(what);
  if (failures.length <= 10) console.error(`MISMATCH ${what}\n  ${detail.split("\n").join("\n  ")}`);
}
function count(key, n = 1) { counts[key] = (counts[key] ?? 0) + n; }
const short = (s) => (s.length > 300 ? s.slice(0, 300) + `... (${s.length} chars)` : s);

// a. npm encodes, sett decodes and re-encodes ----------------------------------------------------

const frames = {};
for (const top of TOP) {
  const t = schema[top.name];
  const values = [];
  for (let i = 0; i < opts.count; i++) values.push(randomValue({ kind: "ref", name: top.name }, t.members[i % t.members.length]));
  const bytes = values.map((v) => encodeFrame(top, v));
  const hex = bytes.map(hexOf);
  const want = values.map((v) => toJson(v, { kind: "ref", name: top.name }));
  frames[top.name] = bytes;

  const got = settBatch("decode", top, hex);
  got.forEach((json, i) => {
    if (json !== want[i]) fail(`a/${top.name}/${i} decode`, `frame ${short(hex[i])}\nsett ${short(json)}\nnpm  ${short(want[i])}`);
  });
  const back = settBatch("encode", top, want);
  back.forEach((h, i) => {
    if (h !== hex[i]) fail(`a/${top.name}/${i} encode`, `json ${short(want[i])}\nsett ${short(h)}\nnpm  ${short(hex[i])}`);
  });
  count("a: npm-encoded frames decoded and re-encoded by sett", values.length);
  const tags = new Set(values.map((v) => v.tag));
  if (tags.size !== t.members.length) fail(`a/${top.name} coverage`, `only ${[...tags].join(", ")}`);
}

// b. Lua builds and encodes, npm decodes --------------------------------------------------------

{
  const r = run(opts.luajit, [join(here, "proto-random.lua"), String(opts.count), String(opts.seed)], "",
    { LUA_CPATH: opts.cpath + ";;", SETT_ROOT: root,
      ...(opts.preload ? { LD_PRELOAD: opts.preload, ASAN_OPTIONS: "detect_leaks=0" } : {}) });
  if (r.status !== 0) {
    fail("b: proto-random.lua", `exit ${r.status}: ${r.stderr.trim()}`);
  } else {
    for (const line of r.stdout.split("\n")) {
      if (!line) continue;
      const [name, hex, json] = line.split("\t");
      const top = TOP.find((x) => x.name === name);
      let value;
      try {
        // A plain Uint8Array: the npm decoder copies data with .slice(), which on a Buffer is a view.
        value = decodeFrame(top, Uint8Array.from(Buffer.from(hex, "hex")));
      } catch (e) {
        fail(`b/${name} npm decode`, `${e.message}\nframe ${short(hex)}\nlua   ${short(json)}`);
        continue;
      }
      const npmJson = toJson(value, { kind: "ref", name });
      if (npmJson !== json) fail(`b/${name} value`, `frame ${short(hex)}\nnpm ${short(npmJson)}\nlua ${short(json)}`);
      const again = hexOf(encodeFrame(top, value));
      if (again !== hex) fail(`b/${name} npm re-encode`, `sett ${short(hex)}\nnpm  ${short(again)}`);
      count(`b: Lua-encoded frames decoded by npm`);
      count(`b: Lua-encoded ${name}`);
    }
  }
}

// c. the same frames broken: sett must accept exactly what npm accepts ------------------------------

for (const top of TOP) {
  const mutants = [];
  for (const frame of frames[top.name]) {
    if (frame.length > 4096) continue;
    for (let k = 0; k < 3; k++) {
      const b = Array.from(frame);
      const at = int(b.length + 1);
      switch (int(6)) {
        case 0: b.length = int(b.length); break; // cut
        case 1: if (b.length) b[Math.min(at, b.length - 1)] = int(256); break; // change a byte
        case 2: if (b.length) b[Math.min(at, b.length - 1)] = pick([0, 1, 2, 0x7f, 0x80, 0xff]); break;
        case 3: b.splice(at, 0, int(256)); break; // insert
        case 4: b.splice(Math.min(at, b.length - 1), 1); break; // drop
        case 5: b.push(int(256)); break; // append
      }
      // An empty line means nothing to `sett proto`; the empty frame is covered by the unit tests.
      if (b.length) mutants.push(Uint8Array.from(b));
    }
  }
  const got = settBatch("decode", top, mutants.map(hexOf));
  mutants.forEach((m, i) => {
    let npm = null;
    let npmErr = null;
    try { npm = toJson(decodeFrame(top, m), { kind: "ref", name: top.name }); } catch (e) { npmErr = e.message; }
    const settErr = got[i].startsWith('{"error":') ? got[i] : null;
    if (npmErr !== null && settErr !== null) { count("c: broken frames both refuse"); return; }
    if (npmErr === null && settErr === null) {
      count("c: broken frames both accept");
      if (got[i] !== npm) fail(`c/${top.name}/${i} value`, `frame ${short(hexOf(m))}\nsett ${short(got[i])}\nnpm  ${short(npm)}`);
      return;
    }
    fail(`c/${top.name}/${i} verdict`, `frame ${short(hexOf(m))}\nsett ${short(got[i])}\nnpm  ${npmErr ?? "accepts"}`);
  });
}

// The summary -----------------------------------------------------------------------------------

console.log(`proto-crosscheck: sett (${opts.sett}) against @rivetkit/engine-runner-protocol ${pkg.version}, seed ${opts.seed}`);
for (const [k, n] of Object.entries(counts)) console.log(`  ${k}: ${n}`);
if (failures.length) {
  console.log(`FAILED: ${failures.length} mismatches`);
  process.exit(1);
}
console.log("OK: no mismatches");
