// Integration tests: a real Docker Engine, the built dist/ bundles, the real claude CLI.
// They share one engine and build their images once (globalSetup), so files run one at a time.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/itg/**/*.test.itg.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 600_000,
  },
});
