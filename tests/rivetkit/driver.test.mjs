// RivetKit 2.2.1's driver test suite against the server at RIVET_ENDPOINT, set up per test as
// RivetKit's own engine driver test does it: a fresh namespace, a runner of the fixture registry
// connected to it, and the test's client pointed at that namespace and runner name.
import { createTestRuntime, runDriverTests } from "rivetkit/driver-test-suite";
import { createClientWithDriver, createEngineDriver } from "rivetkit";

const endpoint = process.env.RIVET_ENDPOINT;
const registryPath = process.env.SETT_RIVETKIT_REGISTRY;
const datacenter = process.env.SETT_RIVETKIT_DATACENTER;
const token = "dev";
const runnerName = "test-runner";
const auth = { Authorization: `Bearer ${token}` };

async function waitForRunner(namespace) {
  const url = `${endpoint}/runners?namespace=${namespace}&name=${runnerName}`;
  // Until shortly before the hook's own timeout (run.mjs --timeout), 10 s by default.
  const end = Date.now() + Number(process.env.SETT_RIVETKIT_TIMEOUT ?? 10000) - 500;
  while (Date.now() < end) {
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
      // Rivet's engine places actors only for a runner name that has a runner config in the
      // namespace (else actor.no_runner_config_configured), as RivetKit's own harness sets up;
      // sett needs none, so run.mjs names the datacenter only when it runs Rivet.
      if (datacenter) {
        const rc = await fetch(`${endpoint}/runner-configs/${runnerName}?namespace=${namespace}`, {
          method: "PUT",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ datacenters: { [datacenter]: { normal: {} } } }),
        });
        if (!rc.ok) throw new Error(`runner config of ${namespace}: ${rc.status} ${await rc.text()}`);
      }

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
