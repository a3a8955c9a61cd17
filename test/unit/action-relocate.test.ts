import { describe, expect, test } from "vitest";
import { manifestInThisJob } from "../../src/action/relocate.js";

describe("a resume in the action reads the manifest from this job's checkout", () => {
  const earlier = "/workspace-a/octo/widgets";
  const here = "/workspace-b/octo/widgets";
  const only =
    (...paths: string[]) =>
    (path: string) =>
      paths.includes(path);

  test.each([
    [
      "at the checkout's root",
      `${earlier}/claude-bottle.json`,
      only(`${here}/claude-bottle.json`),
      `${here}/claude-bottle.json`,
    ],
    [
      "in a folder of the checkout",
      `${earlier}/.github/claude-bottle.json`,
      only(`${here}/.github/claude-bottle.json`),
      `${here}/.github/claude-bottle.json`,
    ],
    [
      "whose name starts with two dots",
      `${earlier}/..claude-bottle.json`,
      only(`${here}/..claude-bottle.json`),
      `${here}/..claude-bottle.json`,
    ],
    [
      "in both checkouts: this job's",
      `${earlier}/claude-bottle.json`,
      only(`${here}/claude-bottle.json`, `${earlier}/claude-bottle.json`),
      `${here}/claude-bottle.json`,
    ],
    [
      "in neither: this job's, which the error then names",
      `${earlier}/claude-bottle.json`,
      only(),
      `${here}/claude-bottle.json`,
    ],
    [
      "only in the earlier checkout (the same machine): the earlier one",
      `${earlier}/claude-bottle.json`,
      only(`${earlier}/claude-bottle.json`),
      `${earlier}/claude-bottle.json`,
    ],
    ["the embedded default, by name", "(embedded default)", only(), "(embedded default)"],
    ["outside the earlier checkout: where it was", "/etc/claude-bottle.json", only(), "/etc/claude-bottle.json"],
    [
      "beside the earlier checkout: where it was",
      "/workspace-a/octo/widgets-other/claude-bottle.json",
      only(),
      "/workspace-a/octo/widgets-other/claude-bottle.json",
    ],
    [
      "climbing out of the earlier checkout: where it was",
      `${earlier}/../claude-bottle.json`,
      only(),
      `${earlier}/../claude-bottle.json`,
    ],
  ])("a manifest %s", (_name, manifestPath, exists, expected) => {
    expect(manifestInThisJob({ manifestPath, workspace: earlier }, here, exists)).toBe(expected);
  });

  test("a workspace recorded as a relative path moves nothing", () => {
    expect(manifestInThisJob({ manifestPath: "/w/claude-bottle.json", workspace: "w" }, "/x", only())).toBe(
      "/w/claude-bottle.json",
    );
  });
});
