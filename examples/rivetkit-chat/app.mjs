// The chat app: a RivetKit 2.2.1 registry whose `chatRoom` actors are the rooms, run as a runner
// of the engine at RIVET_ENDPOINT (sett), and a small HTTP server on PAGE_PORT that serves the
// browser page and RivetKit's browser client as ES modules from node_modules.
//
//   RIVET_ENDPOINT=http://127.0.0.1:6420 PAGE_PORT=8080 node app.mjs
//
// CHAT_SLEEP_TIMEOUT_MS (30000) is how long a room stays awake without a message.
import { actor, setup } from "rivetkit";
import { servePage } from "./page-server.mjs";

const SLEEP_MS = Number(process.env.CHAT_SLEEP_TIMEOUT_MS ?? 30_000);
const HISTORY = 50;

// RivetKit 2.2.1 keeps an actor awake while any connection is open, hibernatable or not (its
// #canSleep has the hibernatable check commented out), so `sleepTimeout` alone would never put a
// room with a page open to sleep. The room therefore sleeps itself after SLEEP_MS without a
// message; the pages' connections are hibernatable, so sett holds them while the room sleeps and
// the next message on any of them wakes it.
function armIdleTimer(c) {
  clearTimeout(c.vars.idle);
  c.vars.idle = setTimeout(() => c.sleep(), SLEEP_MS);
}

// Post counts live in the actor's KV under "posts/<user>": they survive sleep like the state,
// and the raw WebSocket below reads them.
async function postCounts(c) {
  const rows = await c.kv.list("posts/");
  return Object.fromEntries(rows.map(([k, v]) => [k.slice("posts/".length), Number(v)]));
}

async function pushStats(c) {
  if (c.vars.statSockets.size === 0) return;
  const text = JSON.stringify({ type: "stats", posts: await postCounts(c) });
  for (const ws of c.vars.statSockets) ws.send(text);
}

export const chatRoom = actor({
  state: { messages: [] },
  createVars: () => ({ idle: undefined, statSockets: new Set() }),
  onWake: (c) => {
    c.state.wakes = (c.state.wakes ?? 0) + 1;
    armIdleTimer(c);
  },
  onSleep: (c) => clearTimeout(c.vars.idle),
  actions: {
    post: async (c, user, text) => {
      user = String(user).slice(0, 32) || "anonymous";
      const msg = { user, text: String(text).slice(0, 2000), at: Date.now() };
      c.state.messages.push(msg);
      if (c.state.messages.length > HISTORY) c.state.messages.splice(0, c.state.messages.length - HISTORY);
      const key = `posts/${user}`;
      await c.kv.put(key, String(Number((await c.kv.get(key)) ?? 0) + 1));
      c.broadcast("message", msg);
      armIdleTimer(c);
      await pushStats(c);
      return msg;
    },
    history: (c) => c.state.messages,
    // How often the room has been started: 1 at first, one more after each sleep.
    wakes: (c) => c.state.wakes,
  },
  // A raw WebSocket (/websocket/stats) that streams the room's post counts from KV: once on open,
  // then after every message. It is not hibernatable, so it closes when the room sleeps; the
  // page opens it again when the next message arrives.
  onWebSocket: async (c, ws) => {
    c.vars.statSockets.add(ws);
    ws.addEventListener("close", () => c.vars.statSockets.delete(ws));
    ws.send(JSON.stringify({ type: "stats", posts: await postCounts(c) }));
  },
  options: { sleepTimeout: SLEEP_MS, canHibernateWebSocket: false },
});

export const registry = setup({ use: { chatRoom } });

registry.startRunner();
if (process.env.PAGE_PORT) {
  const server = await servePage({
    port: Number(process.env.PAGE_PORT),
    endpoint: process.env.RIVET_PUBLIC_ENDPOINT ?? process.env.RIVET_ENDPOINT,
    namespace: process.env.RIVET_NAMESPACE ?? "default",
  });
  console.log(`page on http://127.0.0.1:${server.address().port}/`);
  process.once("SIGTERM", () => server.close());
  process.once("SIGINT", () => server.close());
}
// RivetKit's runner answers SIGTERM and SIGINT by draining (its actors stop and save their
// state) but leaves the process running; it gets a second for that, then the process ends.
for (const sig of ["SIGTERM", "SIGINT"]) process.once(sig, () => setTimeout(() => process.exit(0), 1000).unref());
