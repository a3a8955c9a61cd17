/**
 * What a per-bottle Dockerfile may take from outside its build (no ADD, COPY only
 * --from, images named plainly) and which images the runner checks are on the
 * engine before it builds one.
 */
import { DockerfileParser } from "dockerfile-ast";
import { describe, expect, test } from "vitest";
import { buildSourcesProblem, isPlainReference, namedImages } from "../../src/supervise/build-sources.js";

function problem(text: string): string | null {
  return buildSourcesProblem(DockerfileParser.parse(text).getInstructions());
}

describe("what a per-bottle Dockerfile may take from outside its build", () => {
  test.each([
    [
      "RUN steps that download (through the gate)",
      "FROM debian\nRUN curl -fsSLo /usr/local/bin/tool https://tools.example/tool\n",
    ],
    [
      "the bundled Dockerfile's ARG before FROM",
      "ARG BASE_IMAGE=node:24-bookworm-slim\nFROM ${BASE_IMAGE}\nARG V=1\nRUN echo $V\n",
    ],
    ["an ARG before FROM without a default", "ARG BASE_IMAGE\nFROM $BASE_IMAGE\n"],
    [
      "a stage and COPY --from it",
      "FROM golang:1.22 AS build\nRUN go build -o /out ./...\nFROM debian\nCOPY --from=build /out /usr/local/bin/\n",
    ],
    [
      "COPY --from an image or a stage index",
      "FROM debian\nCOPY --from=busybox:1.36 /bin/busybox /bin/\nCOPY --from=0 /etc/os-release /tmp/\n",
    ],
    ["an image by digest", `FROM debian@sha256:${"a".repeat(64)}\n`],
    ["ONBUILD RUN", "FROM debian\nONBUILD RUN make\n"],
    ["quotes in a RUN step", 'FROM debian\nRUN echo "it\'s fine"\n'],
  ])("%s: fine", (_name, text) => {
    expect(problem(text)).toBeNull();
  });

  test.each([
    [
      "ADD of a URL",
      "FROM debian\nADD http://127.0.0.1:8080/x /x\n",
      "line 2: ADD is not available in a per-bottle Dockerfile: the Docker engine would fetch a URL itself, outside the bottle's gate",
    ],
    ["ADD of a URL, escaped", "FROM debian\nADD h\\ttp://127.0.0.1/x /x\n", "line 2: ADD is not available"],
    [
      "ADD of a local file",
      "FROM debian\nADD app.tar.gz /opt/\n",
      "the build's context is empty; download with RUN curl or wget",
    ],
    ["lowercase add", "FROM debian\nadd http://x/ /x\n", "line 2: ADD"],
    ["ONBUILD ADD", "FROM debian\nONBUILD ADD http://x/ /x\n", "line 2: ONBUILD ADD is not available"],
    [
      "COPY from the context",
      "FROM debian\nCOPY .env /tmp/\n",
      "line 2: COPY without --from has nothing to copy: a per-bottle build's context is empty",
    ],
    ["ONBUILD COPY from the context", "FROM debian\nONBUILD COPY . /src\n", "line 2: ONBUILD COPY without --from"],
    [
      "COPY --from a variable",
      "FROM debian\nCOPY --from=$IMG /x /x\n",
      "line 2: COPY --from=$IMG: name an earlier stage or an image plainly",
    ],
    ["COPY --from quoted", 'FROM debian\nCOPY --from="127.0.0.1:5000/x" /x /x\n', "line 2: COPY --from="],
    ["FROM --platform", "FROM --platform=linux/arm64 debian\n", "line 1: FROM takes no flags"],
    ["FROM quoted", 'FROM "debian"\n', 'line 1: FROM "debian": name the image plainly'],
    [
      "FROM with a default form",
      "FROM ${BASE:-127.0.0.1:5000/x}\n",
      "quotes, escapes and ${NAME:-default} forms are not accepted",
    ],
    ["FROM continued over lines", "FROM deb\\\nian\n", "line 1: FROM"],
    [
      "an ARG before FROM with quotes",
      'ARG BASE="127.0.0.1:5000/x"\nFROM $BASE\n',
      "line 1: an ARG before FROM gives an image to FROM, so write it plainly",
    ],
    ["an ARG before FROM with a variable", "ARG BASE=$OTHER\nFROM $BASE\n", "line 1: an ARG before FROM"],
    ["an ARG before FROM with an escape", "ARG BASE=127.0.0.1\\:5000/x\nFROM $BASE\n", "line 1: an ARG before FROM"],
    ["an escape directive's escape", "# escape=`\nFROM deb`\nian\n", "line 2: FROM"],
  ])("%s: refused", (_name, text, expected) => {
    expect(problem(text)).toContain(expected);
  });
});

describe("the images the engine would look for", () => {
  test.each([
    ["a plain FROM", "FROM debian:12\n", {}, [{ image: "debian:12", line: 1 }]],
    [
      "the build arg over the ARG's default",
      "ARG BASE_IMAGE=node:24\nFROM ${BASE_IMAGE}\n",
      { BASE_IMAGE: "local/base:1" },
      [{ image: "local/base:1", line: 2 }],
    ],
    ["the ARG's default", "ARG BASE_IMAGE=node:24\nFROM $BASE_IMAGE\n", {}, [{ image: "node:24", line: 2 }]],
    [
      "a build arg no ARG declares is not used",
      "FROM ${BASE_IMAGE}x\n",
      { BASE_IMAGE: "local/base:1" },
      [{ image: "x", line: 1 }],
    ],
    [
      "an ARG after FROM does not reach a later FROM",
      "FROM a\nARG B=b\nFROM $B\n",
      {},
      [
        { image: "a", line: 1 },
        { image: "", line: 3 },
      ],
    ],
    [
      "stages, stage indexes and scratch are not images",
      "FROM a AS Build\nFROM build\nCOPY --from=BUILD /x /x\nCOPY --from=0 /x /x\nFROM scratch\n",
      {},
      [{ image: "a", line: 1 }],
    ],
    [
      "COPY --from an image",
      "FROM a\nCOPY --from=busybox:1 /bin/sh /bin/\n",
      {},
      [
        { image: "a", line: 1 },
        { image: "busybox:1", line: 2 },
      ],
    ],
    [
      "a stage named later is still an image here",
      "FROM a\nCOPY --from=later /x /x\nFROM b AS later\n",
      {},
      [
        { image: "a", line: 1 },
        { image: "later", line: 2 },
        { image: "b", line: 3 },
      ],
    ],
  ])("%s", (_name, text, args, expected) => {
    expect(namedImages(text, args as Record<string, string>)).toEqual(expected);
  });

  test.each([
    ["debian:12", true],
    ["127.0.0.1:5000/x/y:latest", true],
    [`debian@sha256:${"a".repeat(64)}`, true],
    ["", false],
    ["http://127.0.0.1/x", false],
    ['"debian"', false],
    ["${X}", false],
    ["-debian", false],
    ["Debian", false],
    ["debian//x", false],
    ["localhost:5000/Team/x", false],
    ["registry.example:5000/team/tool:v1.2_3", true],
  ])("%s is a plain reference: %s", (image, plain) => {
    expect(isPlainReference(image)).toBe(plain);
  });
});
