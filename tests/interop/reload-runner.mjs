// A real @rivetkit/engine-runner process for the reload soak test: every WebSocket may
// hibernate; each client message is acknowledged and echoed back. The socket metadata an actor
// would persist is kept in this process's memory (the test uses one runner), and onActorStart
// restores the actor's sockets with restoreHibernatingRequests after a sleep. Reports opens,
// restores, starts, stops and closes to the test over IPC; sleeps an actor on {cmd: "sleep"}.
// argv: endpoint runnerName
import { Runner } from "@rivetkit/engine-runner";

const [endpoint, runnerName] = process.argv.slice(2);
const hex = (b) => Buffer.from(b).toString("hex");
const sockets = new Map(); // gateway id + request id -> { actorId, gatewayId, requestId, path, headers, index }

const runner = new Runner({
  endpoint, namespace: "default", runnerName, runnerKey: `soak-${process.pid}`, totalSlots: 1000, version: 1,
  prepopulateActorNames: {}, metadata: {},
  onConnected() { process.send({ ev: "connected" }); },
  onDisconnected() {},
  onShutdown() {},
  fetch: async (_r, actorId) => new Response(actorId),
  websocket: async (_r, actorId, ws, gatewayId, requestId, _request, path, headers, _hibernatable, restoring) => {
    const id = hex(gatewayId) + hex(requestId);
    let st = sockets.get(id);
    if (!st) {
      st = { actorId, gatewayId, requestId, path, headers, index: 0 };
      sockets.set(id, st);
    }
    process.send({ ev: restoring ? "restore" : "open", actorId, id });
    ws.addEventListener("message", (ev) => {
      st.index = ev.rivetMessageIndex;
      runner.sendHibernatableWebSocketMessageAck(gatewayId, requestId, ev.rivetMessageIndex);
      ws.send(ev.data);
    });
    ws.addEventListener("close", () => {
      sockets.delete(id);
      process.send({ ev: "close", actorId, id });
    });
  },
  onActorStart: async (actorId, generation) => {
    process.send({ ev: "start", actorId, generation });
    const mine = [...sockets.values()].filter((s) => s.actorId === actorId);
    await runner.restoreHibernatingRequests(actorId, mine.map((s) => ({
      gatewayId: s.gatewayId, requestId: s.requestId, clientMessageIndex: 0,
      serverMessageIndex: s.index, path: s.path, headers: s.headers,
    })));
  },
  onActorStop: async (actorId, generation) => { process.send({ ev: "stop", actorId, generation }); },
  hibernatableWebSocket: { canHibernate: () => true },
});

process.on("message", (m) => {
  if (m.cmd === "sleep") runner.sleepActor(m.id);
});
runner.start();
