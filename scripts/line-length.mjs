// Lists every line over the limit in the TypeScript files git tracks under src/; exits 1 if any.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const LIMIT = 120;
const files = execFileSync("git", ["ls-files", "-z", "src/*.ts"], { encoding: "utf8" }).split("\0").filter(Boolean);
const over = [];
for (const file of files) {
  const lines = readFileSync(file, "utf8").split(/\r?\n/);
  lines.forEach((line, index) => {
    if (line.length > LIMIT) over.push(`${file}:${index + 1}: ${line.length} characters`);
  });
}
if (over.length > 0) {
  console.error(over.join("\n"));
  console.error(`${over.length} line(s) over ${LIMIT} characters; split the string or re-wrap the comment.`);
  process.exit(1);
}
console.log(`line-length: ${files.length} files, no line over ${LIMIT} characters`);
