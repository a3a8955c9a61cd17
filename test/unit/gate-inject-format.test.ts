import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test } from "vitest";
import { startRoutes } from "../../src/gate/routes.js";

test("an OAuth route writes the token into Authorization as its format says, over the client's own", async () => {
  const seen: (string | undefined)[] = [];
  const upstream = createServer((req, res) => {
    seen.push(req.headers.authorization);
    res.end("ok");
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const port = (upstream.address() as AddressInfo).port;
  const events: unknown[] = [];
  const gate = await startRoutes(
    {
      version: 1,
      listen: { host: "127.0.0.1", port: 0 },
      routes: [
        {
          name: "anthropic",
          upstream: `http://127.0.0.1:${port}`,
          inject: { header: "authorization", secretEnv: "GATE_SECRET_ANTHROPIC", format: "Bearer {value}" },
        },
      ],
    },
    { GATE_SECRET_ANTHROPIC: "oauth-real-token" },
    (e) => events.push(e),
  );
  try {
    const res = await fetch(`http://127.0.0.1:${gate.port}/anthropic/v1/messages`, {
      headers: { authorization: "Bearer sk-ant-oat01-placeholder" },
    });
    expect(await res.text()).toBe("ok");
    expect(seen).toEqual(["Bearer oauth-real-token"]);
    expect(JSON.stringify(events)).not.toContain("oauth-real-token");
  } finally {
    await gate.close();
    upstream.close();
  }
});
