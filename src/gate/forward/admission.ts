/**
 * Whether a target may be reached, decided before a byte goes upstream: the
 * target must be a plain host name and port on the allowlist before anything is
 * resolved, so a refused name never reaches DNS. The name is then resolved once
 * and every address checked; the proxy connects only to those checked addresses
 * and never resolves again, so a name that rebinds cannot steer it inward.
 *
 * Audit mode relaxes only the allowlist. Targets that are not a `host:port` and
 * addresses on the refused list (loopback, link-local, private, the denied
 * networks, the gate's own addresses) are refused in both modes: no allowlist
 * entry could ever make them pass, and they are how an agent would reach the
 * inside, the gate included.
 */
import { promises as dns } from "node:dns";
import { networkInterfaces } from "node:os";
import { describeError } from "../../errors.js";
import { type AddressPolicy, createAddressPolicy, parseCidr } from "../address.js";
import type { GateProxyConfig } from "../config.js";
import { type AllowEntry, allowlistProblem, type Host, type HostPort, type Parsed } from "../hosts.js";

export type HostLookup = (hostname: string) => Promise<ReadonlyArray<{ address: string }>>;

/** What every admission needs: the policy and how names are resolved. */
export interface AdmissionRules {
  allow: readonly AllowEntry[];
  /** Audit mode: what the allowlist refuses goes through, and is noted. */
  audit: boolean;
  /** How long a lookup may take. */
  timeoutMs: number;
  lookup: HostLookup;
  refusedAddress: AddressPolicy;
}

/** A target that may be reached, at one of `addresses`. */
export interface Admitted {
  host: Host;
  port: number;
  addresses: string[];
  /** What the policy would have refused, in audit mode. */
  audits: string[];
}

/** A target that may not be reached, and the status its client gets. */
export interface Refusal {
  decision: "refuse" | "error";
  status: number;
  reason: string;
  host: string;
  port: number | null;
  address?: string;
}

// IPv4 only: the bottle's networks have no IPv6, and asking for AAAA records too
// makes every lookup wait for an answer that Docker's resolver has to forward.
function systemLookup(hostname: string): Promise<ReadonlyArray<{ address: string }>> {
  return dns.lookup(hostname, { all: true, family: 4 });
}

function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => entry.address));
}

/**
 * `fn`'s answer, asked again at most every `ttlMs`. The gate's own addresses are
 * fixed by the time the agent can reach it (it joins the internal network, whose
 * subnet it refuses anyway, while it starts), and listing the interfaces on every
 * tunnel was a measurable share of a new tunnel's cost.
 */
function memoized<T>(fn: () => T, ttlMs: number): () => T {
  let value: T | undefined;
  let expires = 0;
  return () => {
    const now = Date.now();
    if (value === undefined || now >= expires) {
      value = fn();
      expires = now + ttlMs;
    }
    return value;
  };
}

/**
 * The rules of `config`: its allowlist and mode, the system resolver unless
 * `lookup` replaces it, and the address policy built from the config, wrapped by
 * `wrapPolicy` when given.
 */
export function admissionRules(
  config: GateProxyConfig,
  lookup: HostLookup | undefined,
  wrapPolicy: ((policy: AddressPolicy) => AddressPolicy) | undefined,
): AdmissionRules {
  const configured = createAddressPolicy({
    denied: config.deniedCidrs.map((text) => parseCidr(text)!),
    hostAddresses: config.hostAddresses,
    ownAddresses: memoized(localAddresses, 1_000),
  });
  return {
    allow: config.allow,
    audit: config.mode === "audit",
    timeoutMs: config.connectTimeoutMs,
    // Every tunnel resolves afresh (Docker's resolver answers in ~0.3 ms): an answer
    // that changes between two connections is checked again each time.
    lookup: lookup ?? systemLookup,
    refusedAddress: wrapPolicy?.(configured) ?? configured,
  };
}

type Resolved = { addresses: string[] } | { failed: string; status: number };

/** Resolves `host` within the timeout; a lookup that hangs must not hold the client forever. */
async function resolveHost(rules: AdmissionRules, host: Host): Promise<Resolved> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((done) => {
    timer = setTimeout(() => done("timeout"), rules.timeoutMs);
  });
  try {
    const found = await Promise.race([rules.lookup(host), timeout]);
    if (found === "timeout") {
      return { failed: `looking up ${host} took longer than ${rules.timeoutMs} ms`, status: 504 };
    }
    const addresses = [...new Set(found.map((entry) => entry.address))];
    if (addresses.length === 0) return { failed: `${host} resolved to no address`, status: 502 };
    return { addresses };
  } catch (error) {
    return { failed: `looking up ${host} failed: ${describeError(error)}`, status: 502 };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Every check that needs no bytes from the client beyond its target: the target,
 * the allowlist, then the resolved addresses. `shown` names a target that is not
 * a host in the refusal.
 */
export async function admit(
  rules: AdmissionRules,
  target: Parsed<HostPort>,
  shown: string,
): Promise<Admitted | Refusal> {
  if ("refused" in target) return { decision: "refuse", status: 403, reason: target.refused, host: shown, port: null };
  const { host, port } = target.ok;
  const audits: string[] = [];
  const listed = allowlistProblem(rules.allow, host, port);
  if (listed !== undefined) {
    if (!rules.audit) return { decision: "refuse", status: 403, reason: listed, host, port };
    audits.push(listed);
  }
  const resolved = await resolveHost(rules, host);
  if ("failed" in resolved) return { decision: "error", status: resolved.status, reason: resolved.failed, host, port };
  // Any bad address refuses the name: which one a client would get is the resolver's choice, not ours.
  for (const address of resolved.addresses) {
    const refused = rules.refusedAddress(address);
    if (refused !== undefined) {
      const reason = `${host} resolved to a refused address: ${refused}`;
      return { decision: "refuse", status: 403, reason, host, port, address };
    }
  }
  return { host, port, addresses: resolved.addresses, audits };
}
