/**
 * The credentials a checkout leaves in a repository's config, and the config the
 * bottle gets instead.
 *
 * `actions/checkout` (and the Gitea/Forgejo runners' equivalents) store the job token
 * as `http.<url>.extraheader`, some setups as a credential helper, a URL with a user
 * and password, an `insteadOf` rewrite whose URL holds the token, or an `includeIf`
 * of a credentials file. None of that may reach the agent.
 *
 * git itself parses the file (`git config --file F --null --list`, which neither
 * follows includes nor runs anything); the entries are filtered here and written back
 * as a new file, so nothing but parsed entries (no comment, no unparsed line) reaches
 * the bottle.
 */

export interface ConfigEntry {
  /** Lower case, as git lists it. */
  section: string;
  /** As written (case-sensitive); null for `[section]`. */
  subsection: string | null;
  /** Lower case, as git lists it. */
  name: string;
  /** null for a bare `name` (boolean true). */
  value: string | null;
}

/** Parses `git config --null --list`: records end in NUL; the key ends at the first newline, the value is the rest. */
export function parseConfigList(output: string): ConfigEntry[] {
  const entries: ConfigEntry[] = [];
  for (const record of output.split("\0")) {
    if (record === "") continue;
    const nl = record.indexOf("\n");
    const key = nl === -1 ? record : record.slice(0, nl);
    const value = nl === -1 ? null : record.slice(nl + 1);
    const first = key.indexOf(".");
    const last = key.lastIndexOf(".");
    if (first <= 0 || last === key.length - 1) continue;
    entries.push({
      section: key.slice(0, first),
      subsection: first === last ? null : key.slice(first + 1, last),
      name: key.slice(last + 1),
      value,
    });
  }
  return entries;
}

export function configKey(e: Pick<ConfigEntry, "section" | "subsection" | "name">): string {
  return e.subsection === null ? `${e.section}.${e.name}` : `${e.section}.${e.subsection}.${e.name}`;
}

/** `scheme://user[:password]@` at the start of a URL. */
const URL_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#@]*)@/i;

/**
 * A URL without what would authenticate with it: no user and password for http(s), no password elsewhere
 * (`ssh://git@host` keeps `git`).
 */
export function withoutCredentials(url: string): string {
  return url.replace(URL_USERINFO, (_all, scheme: string, userinfo: string) => {
    if (/^https?:\/\/$/i.test(scheme)) return scheme;
    const user = userinfo.split(":")[0] ?? "";
    return user ? `${scheme}${user}@` : scheme;
  });
}

/** A key as it may be logged: a URL in it shows no user or password. */
export function printableKey(e: ConfigEntry): string {
  return configKey({ ...e, subsection: e.subsection === null ? null : e.subsection.replace(URL_USERINFO, "$1…@") });
}

const DROPPED_SECTIONS = new Set(["credential", "include", "includeif"]);

/** Why an entry must not reach the bottle as it is, or null. */
function credentialIn(e: ConfigEntry): "drop" | "rewrite" | null {
  if (DROPPED_SECTIONS.has(e.section)) return "drop";
  if (e.name === "extraheader") return "drop";
  if (e.section === "core" && e.name === "askpass") return "drop";
  // A URL in the key itself (url.<base>.insteadOf, http.<url>.*): the key cannot be kept without it.
  if (e.subsection !== null && URL_USERINFO.test(e.subsection) && withoutCredentials(e.subsection) !== e.subsection)
    return "drop";
  if (e.value !== null && withoutCredentials(e.value) !== e.value) return "rewrite";
  return null;
}

export interface StrippedConfig {
  kept: ConfigEntry[];
  /** Printable keys of what was removed or rewritten, each once, in file order. */
  removed: string[];
}

export function stripCredentials(entries: ConfigEntry[]): StrippedConfig {
  const kept: ConfigEntry[] = [];
  const removed: string[] = [];
  for (const e of entries) {
    const found = credentialIn(e);
    if (found !== null) {
      const key = printableKey(e);
      const note = found === "rewrite" ? `${key} (its user and password)` : key;
      if (!removed.includes(note)) removed.push(note);
    }
    if (found === "drop") continue;
    kept.push(found === "rewrite" && e.value !== null ? { ...e, value: withoutCredentials(e.value) } : e);
  }
  return { kept, removed };
}

function quoteValue(value: string): string {
  const escaped = value.replace(
    /[\\"\n\t\b]/g,
    (c) => ({ "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\b": "\\b" })[c] as string,
  );
  return `"${escaped}"`;
}

/** A config file git reads back as exactly these entries, in this order. */
export function serializeConfig(entries: ConfigEntry[]): string {
  const lines: string[] = [];
  let header: string | null = null;
  for (const e of entries) {
    const next =
      e.subsection === null ? `[${e.section}]` : `[${e.section} "${e.subsection.replace(/[\\"]/g, (c) => `\\${c}`)}"]`;
    if (next !== header) {
      lines.push(next);
      header = next;
    }
    lines.push(e.value === null ? `\t${e.name}` : `\t${e.name} = ${quoteValue(e.value)}`);
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}
