// The page: one room (?room=NAME, default "lobby") through RivetKit's browser client. Messages
// go out as the room's `post` action (`send` is RivetKit's queue call) over the page's connection and come back to every page in
// the room as `message` events; the post counts come over the room's raw WebSocket.
import { createClient } from "rivetkit/client";

const { endpoint, namespace } = window.CHAT_CONFIG;
const params = new URLSearchParams(location.search);
const roomName = params.get("room") || "lobby";
const $ = (id) => document.getElementById(id);
$("room").textContent = roomName;
$("user").value = params.get("user") || "";

// devtools would load RivetKit's devtools script from outside; this page needs only the client.
const client = createClient({ endpoint, namespace, devtools: false });
const room = client.chatRoom.getOrCreate([roomName]);
const conn = room.connect();

function show(msg) {
  const li = document.createElement("li");
  const who = document.createElement("span");
  who.className = "user";
  who.textContent = msg.user;
  li.append(who, msg.text);
  $("log").append(li);
  li.scrollIntoView({ block: "nearest" });
}

// The raw WebSocket closes when the room sleeps; the next message (which woke the room) opens
// it again.
let stats = null;
async function openStats() {
  if (stats) return;
  stats = "opening";
  try {
    const ws = await room.webSocket("stats");
    stats = ws;
    ws.addEventListener("message", (e) => {
      const { posts } = JSON.parse(e.data);
      const parts = Object.entries(posts).map(([u, n]) => `${u} ${n}`);
      $("stats").textContent = `posts: ${parts.join(", ") || "none yet"}`;
    });
    ws.addEventListener("close", () => { stats = null; });
  } catch {
    stats = null;
  }
}

conn.on("message", (msg) => {
  show(msg);
  openStats();
});
conn.onStatusChange?.((s) => { $("status").textContent = s; });
conn.onOpen(async () => {
  $("status").textContent = "connected";
  $("log").replaceChildren();
  for (const msg of await conn.history()) show(msg);
  openStats();
});

$("form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("text").value;
  $("text").value = "";
  await conn.post($("user").value, text);
});

// For the browser test: how many messages the page shows.
window.chatReady = () => conn.connStatus === "connected";
