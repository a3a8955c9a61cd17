// Fault injection: the built `node runner` and action killed at every phase, a
// Docker daemon restart, a full disk, and hundreds of malformed inputs. A real
// engine and the test images (globalSetup), one file at a time.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/faults/**/*.test.faults.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 600_000,
  },
});
