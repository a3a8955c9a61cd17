/**
 * The fault suites' result table: each test adds a row (fault, what was checked,
 * the result), and the table is printed when the file ends, in the form
 * docs/reliability.md keeps it.
 */
import { afterAll } from "vitest";

const rows: [string, string, string][] = [];

export function record(fault: string, checked: string, result: string): void {
  rows.push([fault, checked, result]);
}

export function printTableAfterAll(title: string): void {
  afterAll(() => {
    const lines = [
      `\n${title}`,
      "",
      "| fault | checked | result |",
      "|---|---|---|",
      ...rows.map((r) => `| ${r.join(" | ")} |`),
    ];
    console.log(lines.join("\n"));
  });
}
