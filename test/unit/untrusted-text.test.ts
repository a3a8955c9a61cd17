/**
 * Agent text in the log: no line the agent controls can start a workflow command or
 * carry a control sequence, and a UTF-8 character cut across chunks stays whole.
 */
import { describe, expect, test } from "vitest";
import { jsonText } from "../../src/cli/output.js";
import { neutralise } from "../../src/log/untrusted.js";
import { lineSplitter } from "../../src/stream/lines.js";

/** What a runner would take as a command: `::` after leading whitespace, or `##[` anywhere. */
const isCommand = (line: string) => line.trimStart().startsWith("::") || line.includes("##[");

const ATTACKS = [
  "::add-mask::ghs_secret",
  "::set-output name=outcome::success",
  '::save-state name=main::{"identity":"x","phase":"done"}',
  "::error file=a.ts,line=1::planted",
  "::stop-commands::abc",
  "   ::warning::indented",
  "\t::group::tabbed",
  "text ##[add-mask]inside",
  "##[error]at the start",
  "ok\r::add-mask::after a bare CR",
  "ok\u2028::add-mask::after a line separator",
  "\u001b[2K\u001b[1Gredrawn ::error::x",
];

describe("neutralise", () => {
  test.each(ATTACKS)("%j can no longer be read as a command", (attack) => {
    const out = neutralise(attack);
    for (const line of out.split("\n")) expect(isCommand(line), line).toBe(false);
    expect(out).not.toMatch(/[\r\u001b\u2028]/);
  });

  test("each line of a multi-line text is neutralised, line breaks kept", () => {
    expect(neutralise("first\n::add-mask::x\n  ::error::y")).toBe("first\n\\::add-mask::x\n  \\::error::y");
  });

  test("control characters are shown, not obeyed", () => {
    expect(neutralise("a\rb\u001b[31mc\u0000d\u0007e\u009bf")).toBe("a\\rb\\x1b[31mc\\0d\\x07e\\x9bf");
  });

  test("ordinary text, tabs, colons inside a line and non-ASCII pass unchanged", () => {
    for (const text of ["claude: wrote src/a.ts", "\tindented", "a :: b", "café — ✓ 日本", "https://x.test/a::b"]) {
      expect(neutralise(text)).toBe(text);
    }
  });

  test("JSON output stays valid JSON with the same values after the door", () => {
    const value = { reason: "##[add-mask]x", note: "::error::y\r\u001b" };
    const printed = neutralise(jsonText(value));
    expect(JSON.parse(printed)).toEqual(value);
    expect(isCommand(printed)).toBe(false);
  });
});

describe("lineSplitter", () => {
  test("a character cut across chunks stays whole, fed one byte at a time", () => {
    const lines: string[] = [];
    const split = lineSplitter((l) => lines.push(l));
    for (const byte of Buffer.from("café — ✓\r\nnext 🙂\nlast")) split.push(Buffer.from([byte]));
    split.flush();
    expect(lines).toEqual(["café — ✓", "next 🙂", "last"]);
  });

  test("a truncated character at the very end is replaced, not dropped silently", () => {
    const lines: string[] = [];
    const split = lineSplitter((l) => lines.push(l));
    split.push(Buffer.from([0x61, 0xe2, 0x9c]));
    split.flush();
    expect(lines).toEqual(["a\ufffd"]);
  });
});
