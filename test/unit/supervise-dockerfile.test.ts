import { describe, expect, test } from "vitest";
import { MAX_DOCKERFILE_BYTES } from "../../src/supervise/config.js";
import { dockerfileProblem } from "../../src/supervise/dockerfile.js";

describe("is a proposal a Dockerfile worth building", () => {
  test.each([
    ["a plain one", "FROM debian:bookworm\nRUN apt-get install -y gcc\n"],
    ["ARG before FROM", "ARG BASE=node:24\nFROM ${BASE}\nUSER node\n"],
    [
      "a parser directive, comments and stages",
      "# syntax=docker/dockerfile:1\n# build stage\nFROM golang AS build\nRUN go build ./...\nFROM debian\nCOPY --from=build /out /usr/local/bin/\n",
    ],
    ["lowercase instructions", "from debian\nrun echo hi\n"],
    ["line continuations", "FROM debian\nRUN apt-get update && \\\n    apt-get install -y make\n"],
    ["heredocs", "FROM debian\nRUN <<EOF\napt-get update\napt-get install -y gcc\nEOF\n"],
    ["CRLF line ends", "FROM debian\r\nRUN echo hi\r\n"],
    ["exactly at the limit", `FROM debian\n#${"x".repeat(MAX_DOCKERFILE_BYTES - 14)}\n`],
  ])("%s is fine", (_name, text) => {
    expect(dockerfileProblem(text)).toBeNull();
  });

  test.each([
    ["empty", "", "the Dockerfile is empty"],
    ["only whitespace", "  \n\t\n", "the Dockerfile is empty"],
    ["only comments", "# nothing here\n", "has no instructions"],
    ["no FROM", "ARG X=1\n", "has no FROM instruction"],
    [
      "RUN before FROM",
      "RUN make\nFROM debian\n",
      "line 1: the first instruction is RUN; a Dockerfile starts with FROM",
    ],
    [
      "an unknown instruction, with its line",
      "FROM debian\n\nINSTALL gcc\n",
      'line 3: "INSTALL" is not a Dockerfile instruction',
    ],
    ["FROM without an image", "FROM\n", "line 1: FROM has no arguments"],
    ["FROM with only a flag", "FROM --platform=linux/amd64\n", "FROM has no arguments"],
    ["a NUL byte", "FROM debian\0\n", "contains a NUL byte"],
    // The rules of a per-bottle build's sources: test/unit/supervise-build-sources.test.ts has them all.
    ["FROM with a platform flag", "FROM --platform=linux/amd64 debian\n", "line 1: FROM takes no flags"],
    ["ADD of a URL", "FROM debian\nADD https://example.com/x /x\n", "line 2: ADD is not available"],
    ["over the size limit", `FROM debian\n${"# padding\n".repeat(7000)}`, "bytes, over the limit of 65536"],
  ])("%s is refused", (_name, text, problem) => {
    expect(dockerfileProblem(text)).toContain(problem);
  });

  test("the limit can be set", () => {
    expect(dockerfileProblem("FROM debian\n", 5)).toBe("the Dockerfile is 12 bytes, over the limit of 5");
  });

  test("the limit counts bytes, not characters", () => {
    expect(dockerfileProblem(`FROM debian\n#${"é".repeat(40)}\n`, 64)).toContain("over the limit of 64");
  });
});
