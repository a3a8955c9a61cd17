import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";
import { manifestJsonSchema } from "../../src/manifest/schema.js";
import { NAME_PATTERN } from "../../src/names.js";

const SCHEMA_FILE = fileURLToPath(new URL("../../schema/claude-bottle.schema.json", import.meta.url));
const REGENERATE = "UPDATE_SCHEMA=1 npx vitest run --config vitest.config.ts test/unit/schema.test.ts";

test("the committed JSON Schema matches the zod schema", () => {
  const generated = `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`;
  if (process.env.UPDATE_SCHEMA === "1") {
    writeFileSync(SCHEMA_FILE, generated);
    return;
  }
  const committed = existsSync(SCHEMA_FILE) ? readFileSync(SCHEMA_FILE, "utf8") : "";
  expect(committed, `schema/claude-bottle.schema.json is out of date; regenerate it with ${REGENERATE}`).toBe(
    generated,
  );
});

test("the JSON Schema describes the input a user writes", () => {
  const schema = manifestJsonSchema() as {
    $schema: string;
    additionalProperties: boolean;
    required: string[];
    properties: Record<string, { propertyNames?: { pattern: string }; additionalProperties?: unknown }>;
  };
  expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
  expect(schema.additionalProperties).toBe(false);
  expect(schema.required).toEqual(["bottles", "agents"]);
  expect(Object.keys(schema.properties)).toEqual(["$schema", "bottles", "agents"]);
  expect(schema.properties.bottles?.propertyNames?.pattern).toBe(NAME_PATTERN.source);
  // Computed fields exist only in the parsed output, never in what a file may hold.
  expect(JSON.stringify(schema)).not.toContain("memoryBytes");
  expect(JSON.stringify(schema)).not.toContain("timeoutMs");
});
