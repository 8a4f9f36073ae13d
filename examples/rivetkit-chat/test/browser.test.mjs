// The chat page in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core;
// nothing is downloaded): two pages in one room see each other's messages, and a message sent
// while the room's actor sleeps (seen asleep in sett's REST API) wakes it and arrives. The page
// is served from the app's own origin and speaks to sett's, as a deployed RivetKit web app does.
//   node test/browser.test.mjs     (on Node 22; SETT_BIN names the sett binary)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { roomActor, startStack, waitFor } from "../stack.mjs";

const SLEEP_MS = 2000;
const ROOM = "browser-room";
const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
let stack;
let context;
let profile;
let alice;
let bob;
const pageErrors = [];
let failed = false;

before(async () => {
  stack = await startStack({ sleepMs: SLEEP_MS });
  profile = mkdtempSync(join(tmpdir(), "sett-chat-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const open = async (user) => {
    const page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(`${user}: ${e.message}`));
    page.on("console", (m) => m.type() === "error" && pageErrors.push(`${user} console: ${m.text()}`));
    await page.goto(`${stack.page}?room=${ROOM}&user=${user}`);
    return page;
  };
  alice = await open("alice");
  bob = await open("bob");
}, { timeout: 90000 });

after(async () => {
  await context?.close().catch(() => {});
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (failed) {
    console.log(`--- page errors ---\n${pageErrors.join("\n")}`);
    console.log(`--- sett log ---\n${stack?.log("sett").slice(-3000)}\n--- app log ---\n${stack?.log("app").slice(-3000)}`);
  }
  await stack?.stop();
});

const step = (name, fn) => test(name, { timeout: 60000 }, async () => {
  try {
    await fn();
  } catch (e) {
    failed = true;
    throw e;
  }
});

const say = async (page, text) => {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
};
const shows = (page, text, timeout = 10000) =>
  page.waitForFunction((t) => [...document.querySelectorAll("#log li")].some((li) => li.textContent.endsWith(t)), text, { timeout });
const logText = (page) => page.$$eval("#log li", (lis) => lis.map((li) => li.textContent));

step("two pages in one room see each other's messages", async () => {
  for (const page of [alice, bob]) await page.waitForFunction(() => window.chatReady?.(), null, { timeout: 20000 });
  await say(alice, "hello from alice");
  await shows(bob, "hello from alice");
  await say(bob, "hi alice, bob here");
  await shows(alice, "hi alice, bob here");
  assert.deepEqual(await logText(bob), ["alicehello from alice", "bobhi alice, bob here"]);
  await alice.waitForFunction(() => document.getElementById("stats").textContent === "posts: alice 1, bob 1", null, { timeout: 10000 });
});

step("a message sent while the room sleeps wakes it and arrives", async () => {
  const asleep = await waitFor(async () => {
    const x = await roomActor(stack, ROOM);
    return x?.sleep_ts ? x : null;
  }, SLEEP_MS + 15000, "the room's actor to sleep");
  assert.equal(asleep.connectable_ts, null);
  assert.equal(await alice.textContent("#status"), "connected", "the page stays connected while the room sleeps");

  await say(alice, "sent while the room slept");
  await shows(alice, "sent while the room slept");
  const awake = await roomActor(stack, ROOM);
  assert.equal(awake.actor_id, asleep.actor_id);
  assert.ok(awake.sleep_ts === null || awake.sleep_ts > asleep.sleep_ts, "the message woke the room");
  // The raw WebSocket closed with the sleep; the page opened it again on the message, and the
  // counts it reads from KV include the posts from before the sleep.
  await alice.waitForFunction(() => document.getElementById("stats").textContent === "posts: alice 2, bob 1", null, { timeout: 10000 });

  // A page opened now gets it from the room's state.
  const carol = await context.newPage();
  await carol.goto(`${stack.page}?room=${ROOM}&user=carol`);
  await shows(carol, "sent while the room slept");
  assert.deepEqual(await logText(carol), ["alicehello from alice", "bobhi alice, bob here", "alicesent while the room slept"]);
  await carol.close();
  assert.deepEqual(pageErrors, []);
});

// Bob's page said nothing during the sleep: its socket re-enters when the room runs again, as
// every socket hibernating on an actor does, so the broadcast of the message that woke the room
// reaches it live.
step("the message that woke the room reaches the other page live", async () => {
  await shows(bob, "sent while the room slept", 3000);
});
