// A real @rivetkit/engine-runner process hosting hibernatable WebSocket actors, written the way
// the SDK asks (see its RunnerConfig.websocket docs): each socket's metadata is persisted in the
// actor's KV (through sett) as soon as it opens, every message is appended to the persisted
// state together with its index before it is acked, and onActorStart restores the persisted
// sockets with restoreHibernatingRequests. A second runner can therefore take an actor over.
// Reports to the test over IPC: starts (with the rows CommandStartActor listed), opens, messages.
// argv: endpoint runnerName runnerKey
import { Runner } from "@rivetkit/engine-runner";

const [endpoint, runnerName, runnerKey] = process.argv.slice(2);
const enc = (s) => new TextEncoder().encode(s);
const dec = (b) => new TextDecoder().decode(b);
const hex = (b) => Buffer.from(b).toString("hex");
const unhex = (s) => new Uint8Array(Buffer.from(s, "hex")).buffer;
const key = (gw, rq) => enc(`hws:${hex(gw)}${hex(rq)}`);
const noAck = new Set(); // actor ids that swallow messages without keeping or acking them

// The state of each socket as persisted, and the chain of writes that keeps them in order.
const sockets = new Map();

function persist(actorId, st) {
  const snapshot = JSON.stringify({
    gatewayId: hex(st.gatewayId), requestId: hex(st.requestId), index: st.index,
    path: st.path, headers: st.headers, received: [...st.received],
  });
  const index = st.index;
  st.chain = st.chain.then(async () => {
    await runner.kvPut(actorId, [[key(st.gatewayId, st.requestId), enc(snapshot)]]);
    if (index > 0 && !noAck.has(actorId)) runner.sendHibernatableWebSocketMessageAck(st.gatewayId, st.requestId, index);
  }).catch((e) => process.send({ ev: "error", actorId, error: String(e?.message ?? e) }));
  return st.chain;
}

async function loadPersisted(actorId, attempts = 1) {
  for (let i = 1; ; i++) {
    try {
      const rows = await runner.kvListPrefix(actorId, enc("hws:"));
      return rows.map(([, v]) => JSON.parse(dec(v)));
    } catch (e) {
      // KV answers errors while sett's store is out of reach; an actor retries its load.
      if (i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

const runner = new Runner({
  endpoint, namespace: "default", runnerName, runnerKey, totalSlots: 100, version: 1,
  prepopulateActorNames: {}, metadata: {},
  onConnected() { process.send({ ev: "connected" }); },
  onDisconnected() {},
  onShutdown() {},
  fetch: async () => new Response("ok"),
  websocket: async (_r, actorId, ws, gatewayId, requestId, _request, path, headers, hibernatable, restoring) => {
    const id = `${hex(gatewayId)}${hex(requestId)}`;
    let st = sockets.get(id);
    if (!restoring || !st) {
      st = { gatewayId, requestId, path, headers, index: 0, received: [], chain: Promise.resolve() };
      sockets.set(id, st);
    }
    process.send({ ev: "open", actorId, id, hibernatable, restoring });
    if (!restoring) persist(actorId, st);
    ws.addEventListener("message", (ev) => {
      if (noAck.has(actorId)) return; // a sink: nothing kept, nothing acked
      const text = typeof ev.data === "string" ? ev.data : dec(ev.data);
      // A large message is recorded by its size and first character: its state must fit a KV
      // value (128 KiB).
      const data = text.length > 65536 ? `big:${text.length}:${text[0]}` : text;
      st.index = ev.rivetMessageIndex;
      st.received.push(data);
      process.send({ ev: "msg", actorId, id, index: ev.rivetMessageIndex, data });
      persist(actorId, st);
      if (data.startsWith("echo:")) ws.send(data);
    });
    ws.addEventListener("close", () => {
      process.send({ ev: "close", actorId, id });
      st.chain = st.chain.then(() => runner.kvDelete(actorId, [key(gatewayId, requestId)])).catch(() => {});
    });
  },
  onActorStart: async (actorId, generation) => {
    const listed = runner.getActor(actorId)?.hibernatingRequests ?? [];
    const persisted = await loadPersisted(actorId, 50);
    // A takeover by another runner starts from what the actor persisted, not from memory.
    for (const p of persisted) {
      const id = p.gatewayId + p.requestId;
      if (!sockets.has(id)) sockets.set(id, { gatewayId: unhex(p.gatewayId), requestId: unhex(p.requestId), path: p.path,
        headers: p.headers, index: p.index, received: p.received, chain: Promise.resolve() });
      else Object.assign(sockets.get(id), { index: p.index, received: p.received });
    }
    process.send({ ev: "start", actorId, generation, listed: listed.map((h) => hex(h.gatewayId) + hex(h.requestId)), persisted: persisted.length });
    await runner.restoreHibernatingRequests(actorId, persisted.map((p) => ({
      gatewayId: unhex(p.gatewayId), requestId: unhex(p.requestId), clientMessageIndex: 0,
      serverMessageIndex: p.index, path: p.path, headers: p.headers,
    })));
  },
  onActorStop: async (actorId, generation) => {
    // What the actor received is persisted before it stops, as a real actor flushes its state.
    await Promise.all([...sockets.values()].map((st) => st.chain));
    process.send({ ev: "stop", actorId, generation });
  },
  hibernatableWebSocket: { canHibernate: (_actorId, _gw, _rq, request) => !new URL(request.url).pathname.includes("nohib") },
});

process.on("message", async (m) => {
  if (m.cmd === "sleep") runner.sleepActor(m.id);
  if (m.cmd === "noack") noAck.add(m.id);
  if (m.cmd === "kvput") {
    const error = await runner.kvPut(m.id, [[enc(m.key), enc(m.value)]]).then(() => null, (e) => String(e?.message ?? e));
    process.send({ ev: "kvput", actorId: m.id, error });
  }
  if (m.cmd === "kvget") {
    const got = await runner.kvGet(m.id, [enc(m.key)]).catch((e) => [String(e)]);
    process.send({ ev: "kvget", actorId: m.id, value: got[0] ? dec(got[0]) : null });
  }
  if (m.cmd === "state") {
    const persisted = await loadPersisted(m.id).catch((e) => ({ error: String(e) }));
    process.send({ ev: "state", actorId: m.id, persisted });
  }
});
runner.start();
