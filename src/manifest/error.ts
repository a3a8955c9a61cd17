/**
 * The one error a bad manifest raises (load.ts). It lists every problem at once, each
 * at its JSON path, so a user fixes the file in one pass; the CLI prints its message
 * as is. In a file of its own so that the CLI can tell it apart without loading the
 * manifest's schema.
 */
import { UserError } from "../errors.js";

export interface ManifestIssue {
  /**
   * A JSON path like `bottles.default.egress.routes[0].upstream`; `(root)` for the top level, `(file)` for
   * the file itself.
   */
  path: string;
  message: string;
}

export class ManifestError extends UserError {
  constructor(
    readonly file: string,
    readonly issues: ManifestIssue[],
  ) {
    super([`invalid manifest ${file}:`, ...issues.map((issue) => `  ${issue.path}: ${issue.message}`)].join("\n"));
    this.name = "ManifestError";
  }
}
