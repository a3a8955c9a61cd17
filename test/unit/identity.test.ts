import { describe, expect, test } from "vitest";
import { IDENTITY_PATTERN, mintIdentity, parseIdentity } from "../../src/state/identity.js";
import { InputError } from "../../src/errors.js";

describe("identity", () => {
  test("a minted identity is <agent>-<5 base36> and valid", () => {
    const id = mintIdentity("fixer");
    expect(id).toMatch(/^fixer-[0-9a-z]{5}$/);
    expect(IDENTITY_PATTERN.test(id)).toBe(true);
  });

  test("parallel mints do not collide", () => {
    const ids = new Set(Array.from({ length: 2000 }, () => mintIdentity("a")));
    expect(ids.size).toBeGreaterThan(1990);
  });

  test("the suffix uses the random source it is given", () => {
    expect(mintIdentity("x", () => 35)).toBe("x-zzzzz");
  });

  test.each([["fixer-k3x9a"], ["a"], ["0-1"], ["a".repeat(63)]])("%s is accepted", (id) => {
    expect(parseIdentity(id, "identity")).toBe(id);
  });

  test.each([
    [""],
    ["Fixer-abcde"],
    ["-abc"],
    ["../etc"],
    ["a/b"],
    ["a b"],
    ["a".repeat(64)],
    ["fixer_abc"],
    [42],
    [null],
  ])("%j is refused with a message naming the field and the fix", (id) => {
    expect(() => parseIdentity(id, "--identity")).toThrow(InputError);
    expect(() => parseIdentity(id, "--identity")).toThrow(
      /^--identity: .* is not a bottle identity; an identity is 1-63 lowercase/,
    );
  });
});
