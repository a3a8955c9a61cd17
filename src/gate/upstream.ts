/**
 * Which URLs a credential route may forward to: an absolute http or https URL,
 * an origin with an optional path prefix and nothing else. No credentials (the
 * gate injects those from its environment), no query or fragment (the client's
 * path is joined onto the prefix), no whitespace for a URL parser to drop.
 *
 * The rule is checked on the text as well as on the parsed URL: `https://@host`
 * and a bare `?` or `#` leave no trace in the parsed URL. The gate words a broken
 * rule for its config errors (`upstreamRuleText`); the manifest words the same
 * rules for people editing it, so both accept exactly the same upstreams.
 *
 * Pure functions only; this module is bundled into the gate.
 */

export type BrokenUpstreamRule =
  { broken: "whitespace" | "not-url" | "credentials" | "query" | "fragment" } | { broken: "scheme"; scheme: string };

/** The rule `value` breaks as a route's upstream, or undefined when it can be one. */
export function checkUpstream(value: string): BrokenUpstreamRule | undefined {
  if (/\s/.test(value)) return { broken: "whitespace" };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { broken: "not-url" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { broken: "scheme", scheme: url.protocol.slice(0, -1) };
  }
  if (url.username !== "" || url.password !== "" || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(value)) {
    return { broken: "credentials" };
  }
  if (value.includes("?")) return { broken: "query" };
  if (value.includes("#")) return { broken: "fragment" };
  return undefined;
}

/** The gate's words for a broken rule, after `upstream "<value>"`. */
export function upstreamRuleText(rule: BrokenUpstreamRule): string {
  switch (rule.broken) {
    case "whitespace":
      return "must not contain whitespace; write the URL alone, like https://api.anthropic.com";
    case "not-url":
      return "is not an absolute URL; write it like https://api.anthropic.com";
    case "scheme":
      return "must use http or https";
    case "credentials":
      return "must not carry credentials; put them in the route's inject secret";
    case "query":
    case "fragment":
      return "must not carry a query or fragment; only a path prefix";
  }
}
