// A real @rivetkit/engine-runner process for the gateway tests: HTTP handlers echo the request,
// WebSocket handlers echo messages; "close:<code>" makes the actor close the socket itself;
// /bytes/N answers a body of N bytes.
// argv: endpoint runnerName
import { startRunner } from "./echo-runner-base.mjs";

const [endpoint, runnerName] = process.argv.slice(2);
// The bodies of /bytes/N, made once: filling 20 MiB on a loaded machine takes longer than the
// tests' response start timeout.
const pattern = new Uint8Array(20 * 1024 * 1024 + 1);
for (let i = 0; i < pattern.length; i++) pattern[i] = i % 251;
startRunner(endpoint, runnerName, {
  fetch: async (_runner, actorId, _gw, _rq, request) => {
    const url = new URL(request.url);
    if (url.pathname === "/hang") return new Promise(() => {});
    // /bytes/N answers N bytes, each its offset mod 251, so a test can check every one.
    if (url.pathname.startsWith("/bytes/")) {
      const n = Number(url.pathname.slice(7));
      return new Response(n <= pattern.length ? pattern.subarray(0, n) : new Uint8Array(n),
        { headers: { "content-type": "application/octet-stream" } });
    }
    const body = await request.text();
    return new Response(JSON.stringify({
      actorId, method: request.method, path: url.pathname + url.search, body,
      header: request.headers.get("x-test"), protocols: request.headers.get("sec-websocket-protocol"),
    }), { status: url.pathname === "/teapot" ? 418 : 200, headers: {
      "content-type": "application/json", "x-from-actor": "1",
      // An actor that does CORS itself: the gateway's headers replace these.
      ...(url.pathname === "/own-cors" ? { "access-control-allow-origin": "http://actor.example", "access-control-expose-headers": "x-from-actor" } : {}),
    } });
  },
  websocket: async (_runner, _actorId, ws, _gw, _rq, request) => {
    ws.addEventListener("message", (ev) => {
      if (typeof ev.data === "string" && ev.data.startsWith("close:")) {
        ws.close(Number(ev.data.slice(6)), "actor says bye");
        return;
      }
      if (typeof ev.data === "string" && ev.data === "headers") {
        ws.send(JSON.stringify({ protocols: request.headers.get("sec-websocket-protocol"), path: new URL(request.url).pathname }));
        return;
      }
      ws.send(ev.data);
    });
  },
});
