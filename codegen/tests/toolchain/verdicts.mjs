// Judges data cases with a compiled Zod export:
// `node verdicts.mjs MODULE.js CASES.json` where CASES is a list of
// {"type": "<CloudEvents type>", "text": "<JSON text of data>"} or
// {"envelope": true, "text": "<JSON text of a whole event>"}; prints one
// JSON list of {"ok": bool, "pointer": "/data/…"} in the same order.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [modulePath, casesPath] = process.argv.slice(2);
const { CloudEventZ, EVENT_TYPE_DATA_SCHEMAS } = await import(pathToFileURL(modulePath).href);
const cases = JSON.parse(readFileSync(casesPath, "utf8"));
const verdicts = cases.map(({ type, text, envelope }) => {
  const schema = envelope ? CloudEventZ : EVENT_TYPE_DATA_SCHEMAS[type];
  if (schema === undefined) return { ok: false, pointer: "/type" };
  const result = schema.safeParse(JSON.parse(text));
  if (result.success) return { ok: true };
  const path = result.error.issues[0]?.path ?? [];
  return { ok: false, pointer: (envelope ? "" : "/data") + path.map((p) => "/" + String(p)).join("") };
});
process.stdout.write(JSON.stringify(verdicts));
