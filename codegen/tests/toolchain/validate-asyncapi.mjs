// Validates AsyncAPI documents with the official parser (@asyncapi/parser):
// `node validate-asyncapi.mjs FILE...`. Prints every diagnostic of severity
// error or warning and exits 1 if any document has an error.
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const parser = new Parser();
let failed = false;
for (const file of process.argv.slice(2)) {
  const { document, diagnostics } = await parser.parse(readFileSync(file, "utf8"), { source: file });
  for (const d of diagnostics) {
    // Severity 0 is an error, 1 a warning.
    if (d.severity <= 1) {
      console.log(`${file}: ${d.severity === 0 ? "error" : "warning"} ${d.code} at /${d.path.join("/")}: ${d.message}`);
    }
  }
  if (document === undefined || diagnostics.some((d) => d.severity === 0)) failed = true;
  else console.log(`${file}: valid AsyncAPI ${document.version()}, ${document.allMessages().length} messages`);
}
process.exit(failed ? 1 : 0);
