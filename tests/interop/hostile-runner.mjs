// A real @rivetkit/engine-runner process for the hostile-client and leak tests: HTTP handlers
// answer with the path (/headers: the request headers as JSON), WebSocket handlers echo, and
// "flood:<count>:<bytes>" makes the actor send
// count binary messages of that size to the socket at once, as fast as the runner takes them.
// argv: endpoint runnerName [token]
import { startRunner } from "./echo-runner-base.mjs";

const [endpoint, runnerName, token] = process.argv.slice(2);
startRunner(endpoint, runnerName, {
  token,
  fetch: async (_runner, _actorId, _gw, _rq, request) => {
    const path = new URL(request.url).pathname;
    return new Response(path === "/headers" ? JSON.stringify(Object.fromEntries(request.headers)) : path);
  },
  websocket: async (_runner, _actorId, ws) => {
    ws.addEventListener("message", (ev) => {
      if (typeof ev.data === "string" && ev.data.startsWith("flood:")) {
        const [, count, bytes] = ev.data.split(":").map(Number);
        const chunk = new Uint8Array(bytes);
        for (let i = 0; i < count; i++) ws.send(chunk);
        return;
      }
      ws.send(ev.data);
    });
  },
});
