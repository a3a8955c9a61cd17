import { describe, expect, test } from "vitest";
import { DockerodeClient } from "../../src/docker/dockerode.js";
import { checkEngineHost } from "../../src/docker/engine-host.js";

describe("the engine address (DOCKER_HOST)", () => {
  test.each([
    undefined,
    "",
    "unix:///var/run/docker.sock",
    "unix://",
    "tcp://127.0.0.1:2375",
    "tcp://docker:2376",
    "127.0.0.1:2375",
    "npipe:////./pipe/docker_engine",
    "http://10.0.0.5:2375",
  ])("%j is reached by the client", (host) => {
    expect(() => checkEngineHost({ DOCKER_HOST: host })).not.toThrow();
  });

  test.each([
    [
      "ssh://builder@ci.example",
      `DOCKER_HOST: "ssh://builder@ci.example" is an ssh:// address, which bottle-action does not speak; forward the engine's socket (ssh -NL /tmp/docker.sock:/var/run/docker.sock builder@ci.example) and set DOCKER_HOST=unix:///tmp/docker.sock, or give a unix:// or tcp:// address`,
    ],
    [
      "SSH://ci.example:2222",
      `DOCKER_HOST: "ssh://ci.example:2222" is an ssh:// address, which bottle-action does not speak; forward the engine's socket (ssh -NL /tmp/docker.sock:/var/run/docker.sock -p 2222 ci.example) and set DOCKER_HOST=unix:///tmp/docker.sock, or give a unix:// or tcp:// address`,
    ],
  ])("%j is refused, naming the variable, the value and the fix", (host, message) => {
    expect(() => checkEngineHost({ DOCKER_HOST: host })).toThrow(message);
  });

  test("a password in an ssh:// address never reaches the message", () => {
    expect(() => checkEngineHost({ DOCKER_HOST: "ssh://builder:hunter2@ci.example" })).toThrow(
      /"ssh:\/\/builder@ci\.example"/,
    );
    expect(() => checkEngineHost({ DOCKER_HOST: "ssh://builder:hunter2@ci.example" })).not.toThrow(/hunter2/);
  });

  test("the client refuses an ssh:// DOCKER_HOST when it is made, before anything connects", () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = "ssh://builder@ci.example";
    try {
      expect(() => new DockerodeClient()).toThrow(/^DOCKER_HOST: "ssh:\/\/builder@ci\.example" is an ssh:\/\/ address/);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });
});
