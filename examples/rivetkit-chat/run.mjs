// `make example`: starts build/sett (memory store), the chat app and its page, prints the URLs,
// and stops everything on Ctrl-C. Ports: SETT_PORT (6420), SETT_ADMIN_PORT (6430), PAGE_PORT
// (8080), each replaced by a free one when taken. Rooms sleep after CHAT_SLEEP_TIMEOUT_MS
// (10000 here) without a message.
import net from "node:net";
import { freePort, startStack } from "./stack.mjs";

const taken = (port) =>
  new Promise((res) => {
    const s = net.createServer();
    s.once("error", () => res(true));
    s.listen(port, "127.0.0.1", () => s.close(() => res(false)));
  });
const pick = async (name, def) => {
  const want = Number(process.env[name] ?? def);
  if (!(await taken(want))) return want;
  const port = await freePort();
  console.log(`port ${want} is taken; ${name}=${port}`);
  return port;
};

const sleepMs = Number(process.env.CHAT_SLEEP_TIMEOUT_MS ?? 10000);
const stack = await startStack({
  settPort: await pick("SETT_PORT", 6420),
  adminPort: await pick("SETT_ADMIN_PORT", 6430),
  pagePort: await pick("PAGE_PORT", 8080),
  sleepMs,
  logs: "inherit",
});

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await stack.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
// The app or sett ending on its own ends the example too.
for (const child of [stack.sett, stack.app]) child.once("exit", () => stopping || (console.log("a process ended; stopping"), stop()));

console.log(`
  chat page:  ${stack.page}?room=lobby   (open it in two windows; ?room=NAME&user=NAME)
  sett:       ${stack.endpoint}  (RIVET_ENDPOINT of the app; admin and metrics on ${stack.admin})
  rooms sleep after ${sleepMs / 1000} s without a message; Ctrl-C stops sett and the app
`);
