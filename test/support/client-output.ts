/**
 * The @actions clients narrate every step on stdout. A test that drives them keeps that
 * narration out of the report and shows it, with `extra` lines, only when it fails.
 */
import { type TestContext, vi } from "vitest";

export function holdClientOutput(context: TestContext, extra: () => string = () => ""): () => void {
  let output = "";
  const write = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, "write").mockImplementation(((chunk: string | Uint8Array) => {
    output += String(chunk);
    return true;
  }) as typeof process.stdout.write);
  context.onTestFailed(() => void write(`${extra()}--- the clients' output ---\n${output}`));
  return () => vi.restoreAllMocks();
}
