/**
 * Splits a byte stream into lines. The bytes are decoded as UTF-8 across chunk
 * boundaries, so a character cut between two chunks stays whole (`café — ✓` fed one
 * byte at a time comes out as `café — ✓`). A trailing CR is dropped from each line.
 */
import { StringDecoder } from "node:string_decoder";

export interface LineSplitter {
  push(chunk: Buffer): void;
  /** Hands over the last, unterminated line, if any. */
  flush(): void;
}

export function lineSplitter(onLine: (line: string) => void): LineSplitter {
  const decoder = new StringDecoder("utf8");
  let pending = "";
  const drain = () => {
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      onLine(pending.slice(0, nl).replace(/\r$/, ""));
      pending = pending.slice(nl + 1);
    }
  };
  return {
    push(chunk) {
      pending += decoder.write(chunk);
      drain();
    },
    flush() {
      pending += decoder.end();
      drain();
      if (pending.length > 0) onLine(pending.replace(/\r$/, ""));
      pending = "";
    },
  };
}
