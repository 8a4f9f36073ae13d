// The chat app behind sett, driven by RivetKit's Node client: two connections to one room see
// each other's messages; the room sleeps when idle (sett's REST API shows sleep_ts) and a
// message sent while it sleeps wakes it, comes back to its sender and is in the history; state,
// KV and the raw WebSocket carry on after the wake.
//   node test/node.test.mjs        (on Node 22; SETT_BIN names the sett binary)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "rivetkit/client";
import { roomActor, startStack, waitFor } from "../stack.mjs";

const SLEEP_MS = 2000;
const ROOM = "node-room";
let stack;
let client;
let a;
let b;
const seenA = [];
const seenB = [];
let failed = false;

before(async () => {
  stack = await startStack({ sleepMs: SLEEP_MS });
  client = createClient({ endpoint: stack.endpoint, namespace: "default" });
  a = client.chatRoom.getOrCreate([ROOM]).connect();
  b = client.chatRoom.getOrCreate([ROOM]).connect();
  a.on("message", (m) => seenA.push(m));
  b.on("message", (m) => seenB.push(m));
}, { timeout: 90000 });

after(async () => {
  await a?.dispose();
  await b?.dispose();
  await client?.dispose();
  if (failed) console.log(`--- sett log ---\n${stack?.log("sett").slice(-3000)}\n--- app log ---\n${stack?.log("app").slice(-3000)}`);
  await stack?.stop();
});

function firstMessage(ws) {
  return new Promise((res, rej) => {
    ws.addEventListener("message", (e) => res(JSON.parse(e.data)), { once: true });
    ws.addEventListener("error", rej, { once: true });
  });
}

// Each test records a failure so that after() can show the processes' logs.
const step = (name, fn) => test(name, { timeout: 60000 }, async () => {
  try {
    await fn();
  } catch (e) {
    failed = true;
    throw e;
  }
});

step("two connections in one room see each other's messages", async () => {
  await waitFor(() => a.connStatus === "connected" && b.connStatus === "connected", 10000, "both connections");
  await a.post("alice", "hello");
  await waitFor(() => seenB.some((m) => m.user === "alice" && m.text === "hello"), 5000, "b to see alice's message");
  await b.post("bob", "hi alice");
  await waitFor(() => seenA.some((m) => m.user === "bob" && m.text === "hi alice"), 5000, "a to see bob's message");
});

let asleep;
step("a message sent while the room sleeps wakes it and arrives", async () => {
  asleep = await waitFor(async () => {
    const x = await roomActor(stack, ROOM);
    return x?.sleep_ts ? x : null;
  }, SLEEP_MS + 10000, "the room's actor to sleep");
  assert.equal(asleep.connectable_ts, null, "a sleeping actor is not connectable");
  assert.equal(a.connStatus, "connected", "the hibernatable connection stays open while the room sleeps");

  const sent = await a.post("alice", "are you asleep?");
  assert.equal(sent.text, "are you asleep?");
  await waitFor(() => seenA.some((m) => m.text === "are you asleep?"), 10000, "the message's event back at its sender");
  const awake = await roomActor(stack, ROOM);
  assert.equal(awake.actor_id, asleep.actor_id);
  assert.equal(awake.sleep_ts, null, "the message woke the room");
  assert.ok((await a.wakes()) >= 2, "the room was started again after its sleep");
  assert.deepEqual((await b.history()).map((m) => m.text), ["hello", "hi alice", "are you asleep?"]);

  // The raw WebSocket reads the post counts from KV, written before and after the sleep.
  const ws = await client.chatRoom.getOrCreate([ROOM]).webSocket("stats");
  const stats = await firstMessage(ws);
  ws.close();
  assert.deepEqual(stats, { type: "stats", posts: { alice: 2, bob: 1 } });
});

// b said nothing during the sleep: its socket re-enters when the room runs again, as every
// socket hibernating on an actor does (docs/gateway.md), so it sees the broadcast of the
// message that woke the room.
step("the message that woke the room reaches the other connection too", async () => {
  await waitFor(() => seenB.some((m) => m.text === "are you asleep?"), 3000, "b to see the message sent during sleep");
});
