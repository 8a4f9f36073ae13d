// A real @rivetkit/engine-runner process driven over IPC for the lifecycle tests. It reports
// actor starts with their generation and runs the KV checks from onActorStart.
// argv: endpoint runnerName runnerKey
import { Runner } from "@rivetkit/engine-runner";

const [endpoint, runnerName, runnerKey] = process.argv.slice(2);
const enc = (s) => new TextEncoder().encode(s);
const dec = (b) => (b ? new TextDecoder().decode(b) : null);
const keys = (rows) => rows.map(([k]) => dec(k));

async function kvChecks(r, id) {
  await r.kvPut(id, ["a", "b", "ba", "c", "d"].map((k) => [enc(k), enc("v" + k)]));
  const out = {};
  out.get = (await r.kvGet(id, [enc("b"), enc("zz")])).map(dec);
  out.all = keys(await r.kvListAll(id));
  out.reverseLimit = keys(await r.kvListAll(id, { reverse: true, limit: 2 }));
  out.rangeIncl = keys(await r.kvListRange(id, enc("b"), enc("c")));
  out.rangeExcl = keys(await r.kvListRange(id, enc("b"), enc("c"), true));
  out.prefix = keys(await r.kvListPrefix(id, enc("b")));
  await r.kvDelete(id, [enc("a")]);
  out.afterDelete = keys(await r.kvListAll(id));
  await r.kvDeleteRange(id, enc("c"), enc("b")); // start >= end: a no-op
  out.afterNoopRange = keys(await r.kvListAll(id));
  await r.kvDeleteRange(id, enc("b"), enc("c")); // [b, c)
  out.afterRange = keys(await r.kvListAll(id));
  await r.kvDrop(id);
  out.afterDrop = keys(await r.kvListAll(id));
  try {
    await r.kvPut(id, [[new Uint8Array(2049), enc("x")]]);
    out.bigKey = "accepted";
  } catch (e) {
    out.bigKey = String(e.message ?? e);
  }
  return out;
}

const runner = new Runner({
  endpoint, namespace: "default", runnerName, runnerKey, totalSlots: 10, version: 1,
  prepopulateActorNames: {}, metadata: { pool: runnerName },
  onConnected() { process.send({ ev: "connected" }); },
  onDisconnected() { process.send({ ev: "disconnected" }); },
  onShutdown() {},
  fetch: async () => new Response("ok"),
  websocket: async () => {},
  onActorStart: async (id, generation) => {
    process.send({ ev: "start", id, generation });
    if (process.env.KV_CHECKS === "1") process.send({ ev: "kv", id, result: await kvChecks(runner, id) });
  },
  onActorStop: async (id, generation) => { process.send({ ev: "stop", id, generation }); },
  hibernatableWebSocket: { canHibernate: () => false },
});
process.on("message", (m) => {
  if (m.cmd === "sleep") runner.sleepActor(m.id);
});
runner.start();
