// RivetKit's own settings for its driver suite (its vitest.base.ts): 10 s per test and hook, the
// tests of a file run concurrently.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["driver.test.mjs"],
    testTimeout: 10_000,
    hookTimeout: 10_000,
    sequence: { concurrent: true },
  },
});
