import { describe, expect, test } from "vitest";
import { type ResultEvent, type SessionEnd, decideOutcome, preserves } from "../../src/state/outcome.js";

const ok: ResultEvent = { subtype: "success", is_error: false, num_turns: 3 };
const apiError: ResultEvent = { subtype: "success", is_error: true, num_turns: 1 };
const maxTurns: ResultEvent = { subtype: "error_max_turns", is_error: true, num_turns: 50 };

const end = (over: Partial<SessionEnd>): SessionEnd => ({
  exitCode: 0,
  result: ok,
  timedOut: false,
  interrupted: false,
  ...over,
});

describe("how claude ended decides the outcome", () => {
  test.each([
    ["exit 0 and a clean result", end({}), "success", false],
    ["exit 0 but the result is an error (API error)", end({ result: apiError }), "error", true],
    ["exit 1 with an error_max_turns result", end({ exitCode: 1, result: maxTurns }), "error", true],
    ["exit 1 with a clean-looking result", end({ exitCode: 1 }), "error", true],
    ["killed: exit 137, no result", end({ exitCode: 137, result: null }), "crashed", true],
    ["Ctrl-C inside: exit 130, no result", end({ exitCode: 130, result: null }), "crashed", true],
    ["exit 0 with no result event at all", end({ result: null }), "error", true],
    [
      "the timeout passed (claude then exits 143)",
      end({ exitCode: 143, result: null, timedOut: true }),
      "timeout",
      true,
    ],
    ["the runner was interrupted", end({ exitCode: 143, result: null, interrupted: true }), "interrupted", true],
    ["interrupted even though claude then finished cleanly", end({ interrupted: true }), "interrupted", true],
    ["interrupt wins over timeout", end({ timedOut: true, interrupted: true }), "interrupted", true],
    [
      "a capability-block proposal was accepted, claude then finished cleanly",
      end({ capabilityBlock: true }),
      "capability-block",
      true,
    ],
    [
      "a capability-block proposal, then the runner stopped claude (143)",
      end({ exitCode: 143, result: null, capabilityBlock: true }),
      "capability-block",
      true,
    ],
    [
      "a capability-block proposal wins over an interrupt that followed",
      end({ interrupted: true, capabilityBlock: true }),
      "capability-block",
      true,
    ],
    [
      "a clean success whose final snapshot did not fit in limits.state",
      end({ stateLimit: true }),
      "state-limit",
      true,
    ],
    [
      "a crash whose final snapshot did not fit in limits.state",
      end({ exitCode: 137, result: null, stateLimit: true }),
      "state-limit",
      true,
    ],
    [
      "the timeout passed and the final snapshot did not fit: the runner's stop wins",
      end({ exitCode: 137, result: null, timedOut: true, stateLimit: true }),
      "timeout",
      true,
    ],
  ] as const)("%s → %s", (_name, input, outcome, preserved) => {
    expect(decideOutcome(input)).toBe(outcome);
    expect(preserves(decideOutcome(input))).toBe(preserved);
  });
});
