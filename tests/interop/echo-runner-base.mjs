// What the simple test runners (gateway-runner.mjs, hostile-runner.mjs) share: a real
// @rivetkit/engine-runner in namespace default with 100 slots, no hibernation, that tells its
// parent process once it has connected. handlers gives fetch and websocket (and may override
// any other option).
import { Runner } from "@rivetkit/engine-runner";

export function startRunner(endpoint, runnerName, handlers) {
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
    onActorStart: async () => {},
    onActorStop: async () => {},
    hibernatableWebSocket: { canHibernate: () => false },
    ...handlers,
  });
  runner.start();
  return runner;
}
