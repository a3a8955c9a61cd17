import { describe, expect, test } from "vitest";
import { formatSize, parseSize } from "../../src/manifest/size.js";

describe("sizes", () => {
  test.each([
    ["2g", 2 * 1024 ** 3],
    ["500m", 500 * 1024 ** 2],
    ["1.5G", 1.5 * 1024 ** 3],
    ["64k", 65_536],
    ["100b", 100],
    ["1048576", 1_048_576],
  ])("%s is %i bytes", (text, bytes) => {
    expect(parseSize(text, "size", "500m or 2g")).toBe(bytes);
  });

  test.each([
    ["2 GB", '"2 GB" is not a size; use a number with an optional unit b, k, m or g, like 500m or 2g'],
    ["", '"" is not a size'],
    ["-1g", '"-1g" is not a size'],
    ["2t", '"2t" is not a size'],
    ["99999999999g", '"99999999999g" is too large a size; use something like 500m or 2g'],
    [`${"9".repeat(200)}x`, `"${"9".repeat(76)}...`],
  ])("%j is refused", (text, message) => {
    expect(() => parseSize(text, "size", "500m or 2g")).toThrow(message);
  });

  test.each([
    [2 * 1024 ** 3, "2g"],
    [8 * 1024 ** 2, "8m"],
    [1536 * 1024, "1536k"],
    [1000, "1000"],
    [0, "0"],
  ])("%i bytes is written %s", (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
    if (bytes > 0) expect(parseSize(text, "size", "")).toBe(bytes);
  });
});
