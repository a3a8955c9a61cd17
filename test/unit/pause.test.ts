import { expect, test } from "vitest";
import { PAUSE_POINTS, pauseFromEnv } from "../../src/bottle/pause.js";
import { InputError } from "../../src/errors.js";

test("no CLAUDE_BOTTLE_PAUSE_AT: no pause hook at all", () => {
  expect(pauseFromEnv({}, () => {})).toBeUndefined();
});

test("an unknown phase is an error naming the variable and the phases", () => {
  expect(() => pauseFromEnv({ CLAUDE_BOTTLE_PAUSE_AT: "lunch" }, () => {})).toThrow(InputError);
  expect(() => pauseFromEnv({ CLAUDE_BOTTLE_PAUSE_AT: "lunch" }, () => {})).toThrow(
    /^CLAUDE_BOTTLE_PAUSE_AT: "lunch" is not a phase; use one of: plan, image-build, networks/,
  );
});

test("the hook passes every other phase and holds at the named one, saying so", async () => {
  const said: string[] = [];
  const pause = pauseFromEnv({ CLAUDE_BOTTLE_PAUSE_AT: "gate-start" }, (l) => said.push(l));
  expect(PAUSE_POINTS).toContain("cache-save");
  await pause?.("networks");
  const held = await Promise.race([
    pause?.("gate-start").then(() => "passed"),
    new Promise((r) => setTimeout(() => r("held"), 50)),
  ]);
  expect(held).toBe("held");
  expect(said).toEqual(["paused at gate-start (CLAUDE_BOTTLE_PAUSE_AT)"]);
});
