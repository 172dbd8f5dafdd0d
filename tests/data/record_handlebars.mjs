// Renders Handlebars templates with handlebars.js for tests/data/record_handlebars.py.
//
// stdin: one JSON object {"cases": [{"template": t, "context_json": c}, ...], "echo": [s, ...]}
// stdout: one JSON object {"version": Handlebars.VERSION, "results": [...], "echo": [...]}
//   results[i] = {"output": string}
//             or {"error": message, "error_phase": "compile" | "render"}
//   echo[i] = the UTF-16 code units of echo string i, to check the JSON round trip.
//
// Each template is compiled with Handlebars.compile(template) and default options (HTML
// escaping on, no noEscape, no strict, no partials or helpers beyond the built-in ones) and
// rendered with JSON.parse(context_json), so numbers are the doubles a JSON request body
// gives. "compile" errors are those Handlebars.precompile(template) already raises (parse
// errors, invalid paths, ...): a build-time compiler can refuse those templates; "render"
// errors only appear when the template runs (missing helpers, missing partials, ...).
//
// handlebars is loaded from $HANDLEBARS_DIR/node_modules/handlebars when set (the recorder
// installs it into a temporary folder), otherwise through the normal require() resolution,
// which includes NODE_PATH.
import { createRequire } from "node:module";
import { join } from "node:path";
import { readFileSync } from "node:fs";

// The built-in `log` helper writes through console.*: keep stdout for the answer.
for (const method of ["log", "info", "debug", "warn"]) console[method] = console.error;

const require = createRequire(import.meta.url);
const Handlebars = process.env.HANDLEBARS_DIR
  ? require(join(process.env.HANDLEBARS_DIR, "node_modules", "handlebars"))
  : require("handlebars");

function message(error) {
  return error instanceof Error ? error.message : String(error);
}

function render(template, contextJson) {
  const context = JSON.parse(contextJson);
  try {
    Handlebars.precompile(template);
  } catch (error) {
    return { error: message(error), error_phase: "compile" };
  }
  try {
    return { output: Handlebars.compile(template)(context) };
  } catch (error) {
    return { error: message(error), error_phase: "render" };
  }
}

const request = JSON.parse(readFileSync(0, "utf8"));
const answer = {
  version: Handlebars.VERSION,
  results: request.cases.map((c) => render(c.template, c.context_json)),
  echo: (request.echo || []).map((s) => Array.from({ length: s.length }, (_, i) => s.charCodeAt(i))),
};
// JSON.stringify escapes lone surrogates (\udXXX), so stdout is valid UTF-8.
process.stdout.write(JSON.stringify(answer) + "\n");
