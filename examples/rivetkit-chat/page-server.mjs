// Serves the chat page and RivetKit's browser client without a bundler: rivetkit@2.2.1 ships
// dist/browser/client.js as an ES module whose few bare imports an import map resolves to files
// in node_modules. Most of those packages are ES modules too; the four CommonJS ones (invariant,
// pino's browser build and the two packages they and p-retry require) are wrapped on the fly
// into ES modules that export their module.exports.
import { createServer } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

const here = dirname(new URL(import.meta.url).pathname);
const modules = join(here, "node_modules");

// The directory of package `name` as Node would find it from directory `from`.
function packageDir(name, from) {
  for (let d = from; ; d = dirname(d)) {
    const p = join(d, "node_modules", name);
    if (existsSync(join(p, "package.json"))) return p;
    if (d === dirname(d)) throw new Error(`package ${name} not found from ${from}`);
  }
}

const url = (file, kind = "esm") => `/${kind}/${relative(modules, file).split(sep).join("/")}`;

// Each bare specifier the browser client and its dependencies import, and the file it means.
function importMap() {
  const rivetkit = packageDir("rivetkit", here);
  const pRetry = packageDir("p-retry", rivetkit);
  const pino = packageDir("pino", rivetkit);
  const scopes = {};
  const at = (spec, file, from, kind = "esm") => {
    const dir = packageDir(spec.replace(/\/v4$/, ""), from);
    // A package's own "#name" imports (package.json "imports", as @rivetkit/bare-ts has) map
    // within its directory, with the browser's conditions.
    const own = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).imports ?? {};
    for (const [name, target] of Object.entries(own)) {
      const t = typeof target === "string" ? target : (target.browser ?? target.import ?? target.default);
      if (typeof t === "string") (scopes[`${url(dir)}/`] ??= {})[name] = url(join(dir, t));
    }
    return [spec, url(join(dir, file), kind)];
  };
  return {
    scopes,
    imports: Object.fromEntries([
      ["rivetkit/client", url(join(rivetkit, "dist/browser/client.js"))],
      at("@rivetkit/bare-ts", "dist/index.js", rivetkit),
      at("cbor-x", "index.js", rivetkit),
      at("zod/v4", "v4/index.js", rivetkit),
      at("vbare", "dist/index.mjs", rivetkit),
      at("p-retry", "index.js", rivetkit),
      at("is-network-error", "index.js", pRetry),
      at("retry", "index.js", pRetry, "cjs"),
      at("invariant", "browser.js", rivetkit, "cjs"),
      at("pino", "browser.js", rivetkit, "cjs"),
      at("quick-format-unescaped", "index.js", pino, "cjs"),
    ]),
  };
}

// Named exports of the wrapped CommonJS modules that the ES modules import by name.
const CJS_NAMES = { "pino/browser.js": ["pino", "stdTimeFunctions"] };

// A CommonJS file as an ES module: its require() calls become imports (relative ones of the
// wrapped neighbour file, bare ones through the import map), and module.exports the default.
// It sees a `process` with NODE_ENV "production", as bundlers give it (invariant reads it).
function wrapCommonJs(file) {
  const src = readFileSync(file, "utf8");
  const names = [...new Set([...src.matchAll(/require\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]))];
  const imports = names.map((n, i) => {
    let spec = n;
    if (n.startsWith(".")) {
      let target = resolve(dirname(file), n);
      if (!existsSync(target) || !target.endsWith(".js")) target = existsSync(`${target}.js`) ? `${target}.js` : join(target, "index.js");
      spec = url(target, "cjs");
    }
    return `import __r${i} from ${JSON.stringify(spec)};`;
  });
  const table = names.map((n, i) => `${JSON.stringify(n)}: __r${i}`).join(", ");
  const key = Object.keys(CJS_NAMES).find((k) => file.endsWith(`${sep}${k}`));
  const named = key ? `export const { ${CJS_NAMES[key].join(", ")} } = module.exports;\n` : "";
  return `${imports.join("\n")}
const module = { exports: {} };
const __required = { ${table} };
(function (module, exports, require, process) {
${src}
})(module, module.exports, (name) => __required[name], { env: { NODE_ENV: "production" } });
export default module.exports;
${named}`;
}

function page(config) {
  const html = readFileSync(join(here, "public/index.html"), "utf8");
  return html
    .replace("<!-- importmap -->", `<script type="importmap">${JSON.stringify(importMap())}</script>`)
    .replace("<!-- config -->", `<script>window.CHAT_CONFIG = ${JSON.stringify(config)};</script>`);
}

// Starts the page server on 127.0.0.1:port (0 for any free port); resolves to the listening
// http.Server. `endpoint` and `namespace` are what the page's RivetKit client connects to.
export function servePage({ port, endpoint, namespace }) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const send = (status, type, body) => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    try {
      if (path === "/" || path === "/index.html") return send(200, "text/html; charset=utf-8", page({ endpoint, namespace }));
      if (path === "/favicon.ico") return send(204, "image/x-icon", "");
      if (path === "/chat.js") return send(200, "text/javascript", readFileSync(join(here, "public/chat.js")));
      const m = path.match(/^\/(esm|cjs)\/(.+\.m?js)$/);
      if (m) {
        const file = resolve(modules, m[2]);
        if (!file.startsWith(modules + sep) || !existsSync(file)) return send(404, "text/plain", "not found");
        return send(200, "text/javascript", m[1] === "cjs" ? wrapCommonJs(file) : readFileSync(file));
      }
      send(404, "text/plain", "not found");
    } catch (e) {
      send(500, "text/plain", String(e));
    }
  });
  return new Promise((res, rej) => {
    server.once("error", rej);
    server.listen(port, "127.0.0.1", () => res(server));
  });
}
