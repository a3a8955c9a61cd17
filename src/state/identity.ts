/**
 * Bottle identities: `<agent>-<5 chars base36>`, minted fresh for every `start` so
 * parallel launches of one agent never collide, and pinned by `resume`.
 *
 * An identity becomes a directory name, container and network names and a cache
 * key, so every place that reads one from outside (a flag, an input, a restored
 * metadata file) validates it here first.
 */
import { randomInt } from "node:crypto";
import { InputError } from "../errors.js";

export const IDENTITY_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const SUFFIX_LENGTH = 5;
const BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz";

export function mintIdentity(agent: string, random: (max: number) => number = randomInt): string {
  let suffix = "";
  for (let i = 0; i < SUFFIX_LENGTH; i++) suffix += BASE36[random(BASE36.length)];
  return parseIdentity(`${agent}-${suffix}`, "identity");
}

/** Returns the identity unchanged when valid; otherwise an InputError naming `field`. */
export function parseIdentity(value: unknown, field: string): string {
  if (typeof value !== "string" || !IDENTITY_PATTERN.test(value)) {
    throw new InputError(
      field,
      value,
      "is not a bottle identity",
      "an identity is 1-63 lowercase letters, digits and hyphens starting with a letter or digit, like " +
        "fixer-k3x9a (see `node runner list`)",
    );
  }
  return value;
}
