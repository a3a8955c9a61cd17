import { describe, expect, test } from "vitest";
import { formatDuration, parseDuration } from "../../src/manifest/duration.js";

describe("parseDuration", () => {
  test.each([
    ["90s", 90_000],
    ["30m", 1_800_000],
    ["1h30m", 5_400_000],
    ["2h", 7_200_000],
    ["500ms", 500],
    ["1d", 86_400_000],
    ["1m30s", 90_000],
    ["1s500ms", 1_500],
    ["1d2h3m4s5ms", 86_400_000 + 7_200_000 + 180_000 + 4_000 + 5],
    ["0h5m", 300_000],
    ["120m", 7_200_000],
  ])("%s is %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each([
    ["", "is not a duration"],
    ["30", "is not a duration"],
    ["30 minutes", "is not a duration"],
    ["-5m", "is not a duration"],
    ["5x", "is not a duration"],
    ["1.5h", "is not a duration"],
    ["30m1h", "is not a duration"],
    ["1h1h", "is not a duration"],
    ["30M", "is not a duration"],
    [" 30m", "is not a duration"],
    ["1h 30m", "is not a duration"],
    ["0s", "is zero"],
    ["0h0m", "is zero"],
    ["99999999999999999d", "is too long"],
  ])("%j is refused", (text, problem) => {
    expect(() => parseDuration(text)).toThrow(`${JSON.stringify(text)} ${problem}`);
  });

  test("the error gives the accepted forms", () => {
    expect(() => parseDuration("30 minutes")).toThrow(
      '"30 minutes" is not a duration; use a number with a unit, like 90s, 30m or 1h30m (units d, h, m, s, ms, largest first)',
    );
  });
});

describe("formatDuration", () => {
  test.each([
    [90_000, "1m30s"],
    [1_800_000, "30m"],
    [5_400_000, "1h30m"],
    [500, "500ms"],
    [1_500, "1s500ms"],
    [86_400_000, "1d"],
    [90_061_001, "1d1h1m1s1ms"],
    [0, "0s"],
    [1_499.6, "1s500ms"],
    [-90_000, "-1m30s"],
  ])("%d ms is %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  test.each([1, 999, 1_000, 59_999, 3_600_001, 86_399_999, 2_073_600_000])("%d ms reads back unchanged", (ms) => {
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
