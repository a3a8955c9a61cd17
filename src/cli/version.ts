/**
 * The runner's version, from package.json (bundled into dist/ at build time, so the
 * committed bundle says which release it is without reading any file at run time).
 */
import pkg from "../../package.json" with { type: "json" };

export const VERSION: string = pkg.version;

/** What `node runner --version` prints. */
export function versionText(): string {
  return `${pkg.name} ${VERSION}\n`;
}
