// The gate refuses the Docker host's own addresses like its own: every spelling
// of one, whatever range it is in, and the config takes only addresses.
import { describe, expect, test } from "vitest";
import { createAddressPolicy } from "../../src/gate/address.js";
import { GateConfigSchema } from "../../src/gate/config.js";

const HOST = ["192.0.2.2", "198.19.5.1", "2001:db8::42"];
const policy = createAddressPolicy({ denied: [], hostAddresses: HOST, ownAddresses: () => ["198.18.0.130"] });

describe("the Docker host's own addresses", () => {
  test.each([
    ["192.0.2.2", "192.0.2.2 is one of the Docker host's own addresses"],
    ["198.19.5.1", "198.19.5.1 is one of the Docker host's own addresses"],
    ["::ffff:192.0.2.2", "::ffff:192.0.2.2 is one of the Docker host's own addresses"],
    ["::ffff:c000:202", "::ffff:c000:202 is one of the Docker host's own addresses"],
    ["2001:db8:0:0:0:0:0:42", "2001:db8:0:0:0:0:0:42 is one of the Docker host's own addresses"],
    ["2001:0db8::0042", "2001:0db8::0042 is one of the Docker host's own addresses"],
    ["198.18.0.130", "198.18.0.130 is one of the gate's own addresses"],
    // Private ranges name themselves first.
    ["10.0.0.1", "10.0.0.1 is a private address"],
  ])("%s is refused: %s", (address, reason) => {
    expect(policy(address)).toBe(reason);
  });

  test.each(["192.0.2.3", "198.19.5.2", "198.18.0.10", "2001:db8::43"])("%s, a neighbour, is not", (address) => {
    expect(policy(address)).toBeUndefined();
  });

  test("without host addresses nothing changes", () => {
    expect(createAddressPolicy({ denied: [] })("192.0.2.2")).toBeUndefined();
  });
});

describe("hostAddresses in the gate's config", () => {
  const config = (hostAddresses: unknown) =>
    GateConfigSchema.safeParse({ version: 1, routes: [], proxy: { hostAddresses } });

  test("defaults to none and takes IPv4 and IPv6 addresses", () => {
    expect(GateConfigSchema.parse({ version: 1, routes: [] }).proxy.hostAddresses).toEqual([]);
    expect(config(HOST).success).toBe(true);
  });

  test.each(["192.0.2.0/24", "host.example", "1.2.3", "fe80::1%eth0", ""])("%j is refused, by name", (entry) => {
    const parsed = config([entry]);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toBe(
      `hostAddresses entry ${JSON.stringify(entry)} is not an IP address; write it like 192.0.2.1 or 2001:db8::1`,
    );
  });
});
