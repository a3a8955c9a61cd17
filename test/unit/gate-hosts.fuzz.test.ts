// The CONNECT target matcher against a small reference written differently (per
// character and per label rather than with the module's patterns), on a few
// thousand seeded random targets built to sit near the allowlist's edges:
// case, trailing dots, lookalike characters, IP-ish labels, odd ports.
import { describe, expect, test } from "vitest";
import { type AllowEntry, findAllowed, parseAuthority } from "../../src/gate/hosts.js";

const SEED = 0x5eed_b077;
const CASES = 5000;

const ALLOW: AllowEntry[] = [
  { host: "allowed.test", port: 443 },
  { host: "*.wild.test", port: 443 },
  { host: "api.example.com", port: 8443 },
  { host: "*.a.b.example", port: 443 },
  { host: "xn--bcher-kva.example", port: 443 },
];

/** mulberry32: a tiny seeded PRNG, so a failure is reproducible from SEED. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LOWER = [..."abcdefghijklmnopqrstuvwxyz"];
const DIGITS = [..."0123456789"];
// Characters that must never pass: unicode lookalikes, separators, URL syntax, controls.
const HOSTILE = [
  "а",
  "е",
  "ο",
  "\u212A",
  "ß",
  "ı",
  "İ",
  "ａ",
  "\u3002",
  "\u200b",
  "_",
  "@",
  "#",
  "/",
  "?",
  "\\",
  "%",
  ":",
  "[",
  "]",
  " ",
  "\t",
  "\u0000",
  "*",
  "!",
  "~",
  "é",
  "😀",
];
const IPISH = [
  "0",
  "1",
  "10",
  "127",
  "255",
  "256",
  "0x7f",
  "0X7F",
  "0x",
  "0306",
  "3323068426",
  "0xc612000a",
  "1e3",
  "08",
  "0x1g",
];
const PORTS = [
  "443",
  "443",
  "443",
  "8443",
  "80",
  "22",
  "0",
  "65535",
  "65536",
  "0443",
  "",
  "+443",
  "44 3",
  "4430",
  "1",
  "99999",
  "abc",
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function randomLabel(random: () => number): string {
  const roll = random();
  if (roll < 0.1) return pick(random, IPISH);
  if (roll < 0.12) return "";
  if (roll < 0.14) return "a".repeat(60 + Math.floor(random() * 8));
  const length = 1 + Math.floor(random() * 8);
  let label = "";
  for (let i = 0; i < length; i++) {
    const r = random();
    if (r < 0.65) label += pick(random, LOWER);
    else if (r < 0.8) label += pick(random, DIGITS);
    else if (r < 0.9) label += "-";
    else label += pick(random, HOSTILE);
  }
  return label;
}

function randomCase(random: () => number, text: string): string {
  return [...text].map((c) => (random() < 0.3 ? c.toUpperCase() : c)).join("");
}

/** A target that is often close to an allowlist entry: the entry itself, under it, around it. */
function randomTarget(random: () => number): string {
  const entry = pick(random, ALLOW);
  const base = entry.host.replace(/^\*\./, "");
  const labels: string[] = [];
  const shape = random();
  if (shape < 0.3) labels.push(base);
  else if (shape < 0.55) {
    const depth = 1 + Math.floor(random() * 3);
    for (let i = 0; i < depth; i++) labels.push(randomLabel(random));
    labels.push(base);
  } else if (shape < 0.65) labels.push(`${randomLabel(random)}${base}`);
  else if (shape < 0.75) labels.push(base, randomLabel(random));
  else if (shape < 0.85) {
    const count = 1 + Math.floor(random() * 4);
    for (let i = 0; i < count; i++) labels.push(pick(random, IPISH));
  } else {
    const count = 1 + Math.floor(random() * 4);
    for (let i = 0; i < count; i++) labels.push(randomLabel(random));
  }
  let host = randomCase(random, labels.join("."));
  if (random() < 0.15) host += ".";
  if (random() < 0.03) host += ".";
  if (random() < 0.05) host = `${randomLabel(random)}@${host}`;
  if (random() < 0.03) host = `[${host}]`;
  if (random() < 0.05) host = `${host}#${base}`;
  const portRoll = random();
  const port = portRoll < 0.05 ? "" : portRoll < 0.6 ? `:${entry.port}` : `:${pick(random, PORTS)}`;
  return `${host}${port}`;
}

/** The reference: what the allowlist should say about `target`, as the matched entry's host or null. */
function reference(target: string): { host: string; entry: string } | null {
  const colon = target.lastIndexOf(":");
  if (colon === -1) return null;
  const hostPart = target.slice(0, colon);
  const portPart = target.slice(colon + 1);
  if (String(Number.parseInt(portPart, 10)) !== portPart) return null;
  const port = Number(portPart);
  if (port < 1 || port > 65535) return null;
  for (const c of hostPart) {
    const ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c === "-" || c === ".";
    if (!ok) return null;
  }
  let host = hostPart.toLowerCase();
  if (host.endsWith(".")) host = host.slice(0, -1);
  if (host.length === 0 || host.length > 253) return null;
  const labels = host.split(".");
  for (const label of labels) {
    if (label.length === 0 || label.length > 63 || label.startsWith("-") || label.endsWith("-")) return null;
  }
  const last = labels[labels.length - 1]!;
  const isNumber = [...last].every((c) => c >= "0" && c <= "9");
  const isHex = last.startsWith("0x") && [...last.slice(2)].every((c) => "0123456789abcdef".includes(c));
  if (isNumber || isHex) return null;
  for (const entry of ALLOW) {
    if (entry.port !== port) continue;
    const wildcard = entry.host.startsWith("*.");
    const entryLabels = (wildcard ? entry.host.slice(2) : entry.host).split(".");
    if (wildcard) {
      if (labels.length <= entryLabels.length) continue;
      const tail = labels.slice(labels.length - entryLabels.length);
      if (tail.every((label, i) => label === entryLabels[i])) return { host, entry: entry.host };
    } else if (labels.length === entryLabels.length && labels.every((label, i) => label === entryLabels[i])) {
      return { host, entry: entry.host };
    }
  }
  return null;
}

function matcher(target: string): { host: string; entry: string } | null {
  const parsed = parseAuthority(target);
  if ("refused" in parsed) return null;
  const entry = findAllowed(ALLOW, parsed.ok.host, parsed.ok.port);
  return entry === undefined ? null : { host: parsed.ok.host, entry: entry.host };
}

describe("allowlist matcher fuzz", () => {
  test(`agrees with the reference on ${CASES} seeded targets`, () => {
    const random = prng(SEED);
    const disagreements: string[] = [];
    let allowed = 0;
    for (let i = 0; i < CASES; i++) {
      const target = randomTarget(random);
      const expected = reference(target);
      const actual = matcher(target);
      if (expected !== null) allowed += 1;
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        disagreements.push(
          `${JSON.stringify(target)}: matcher ${JSON.stringify(actual)}, reference ${JSON.stringify(expected)}`,
        );
      }
    }
    expect(disagreements.slice(0, 20)).toEqual([]);
    // The generator must exercise both outcomes, or the agreement proves little.
    expect(allowed).toBeGreaterThan(CASES / 20);
    expect(allowed).toBeLessThan(CASES / 2);
  });

  test("an allowed target is always canonical and parses back to itself", () => {
    const random = prng(SEED ^ 0xa11ce);
    for (let i = 0; i < CASES; i++) {
      const target = randomTarget(random);
      const parsed = parseAuthority(target);
      if ("refused" in parsed) continue;
      const { host, port } = parsed.ok;
      expect(host).toMatch(/^[a-z0-9.-]+$/);
      expect(host.endsWith(".")).toBe(false);
      expect(parseAuthority(`${host}:${port}`)).toEqual(parsed);
    }
  });
});
