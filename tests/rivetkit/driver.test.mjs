// RivetKit 2.2.1's driver test suite against the server at RIVET_ENDPOINT, set up per test as
// RivetKit's own engine driver test does it: a fresh namespace, a runner of the fixture registry
// connected to it, and the test's client pointed at that namespace and runner name.
import { createTestRuntime, runDriverTests } from "rivetkit/driver-test-suite";
import { createClientWithDriver, createEngineDriver } from "rivetkit";

const endpoint = process.env.RIVET_ENDPOINT;
const registryPath = process.env.SETT_RIVETKIT_REGISTRY;
const token = "dev";
const runnerName = "test-runner";
const auth = { Authorization: `Bearer ${token}` };

async function waitForRunner(namespace) {
  const url = `${endpoint}/runners?namespace=${namespace}&name=${runnerName}`;
  for (let i = 0; i < 200; i++) {
    const r = await fetch(url, { headers: auth }).catch(() => null);
    if (r?.ok && (await r.json()).runners?.some((x) => x.name === runnerName)) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`runner ${runnerName} of ${namespace} never registered`);
}

runDriverTests({
  useRealTimers: true,
  skip: {
    // RivetKit skips the inline client against an engine: it is the remote client there.
    inline: true,
    // These two need a Docker daemon and agentOS's VM: neither is part of sett's test setup.
    sandbox: true,
    agentOs: true,
  },
  start: () =>
    createTestRuntime(registryPath, async (registry) => {
      const namespace = `test-${crypto.randomUUID().slice(0, 8)}`;
      const r = await fetch(`${endpoint}/namespaces`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ name: namespace, display_name: namespace }),
      });
      if (!r.ok) throw new Error(`creating namespace ${namespace}: ${r.status} ${await r.text()}`);

      // The registry is shared by the concurrent tests: its config is set and parsed in one
      // synchronous step so each runner gets its own namespace.
      const driver = createEngineDriver();
      Object.assign(registry.config, { driver, endpoint, namespace, token });
      registry.config.runner = { ...registry.config.runner, runnerName };
      const config = registry.parseConfig();
      const manager = driver.manager(config);
      const inlineClient = createClientWithDriver(manager, {
        endpoint, token, namespace, runnerName, headers: config.headers,
        encoding: "bare", disableMetadataLookup: true,
      });
      const actorDriver = driver.actor(config, manager, inlineClient);
      await waitForRunner(namespace);
      return {
        rivetEngine: { endpoint, namespace, runnerName, token },
        driver,
        cleanup: async () => { await actorDriver.shutdownRunner?.(true); },
      };
    }),
});
