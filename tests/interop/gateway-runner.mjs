// A real @rivetkit/engine-runner process for the gateway tests: HTTP handlers echo the request,
// WebSocket handlers echo messages; "close:<code>" makes the actor close the socket itself.
// argv: endpoint runnerName
import { Runner } from "@rivetkit/engine-runner";

const [endpoint, runnerName] = process.argv.slice(2);
const runner = new Runner({
  endpoint,
  namespace: "default",
  runnerName,
  runnerKey: `key-${process.pid}`,
  totalSlots: 100,
  version: 1,
  prepopulateActorNames: {},
  metadata: {},
  onConnected() { process.send?.({ connected: true }); },
  onDisconnected() {},
  onShutdown() {},
  fetch: async (_runner, actorId, _gw, _rq, request) => {
    const url = new URL(request.url);
    if (url.pathname === "/hang") return new Promise(() => {});
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
  onActorStart: async () => {},
  onActorStop: async () => {},
  hibernatableWebSocket: { canHibernate: () => false },
});
runner.start();
