// Evaluates `new RegExp(pattern).test(input)` in node for the tests of compiler/jsregex.py.
//
// Protocol: one JSON request per stdin line, one JSON answer per stdout line, in order, so the
// same script serves the recorder (tests/data/record_js_regex.py) and the live test, which
// keeps one node process open. Strings travel as JSON with \uXXXX escapes: JSON.parse keeps
// lone surrogates, so both sides see the same UTF-16 code units.
//
//   {"pattern": p, "inputs": [s, ...]}  ->  {"results": [bool, ...]} or {"error": "SyntaxError: ..."}
//   {"pattern": p, "every_code_unit": true}  ->  {"ranges": [[lo, hi], ...]}: the code units c
//       for which test(String.fromCharCode(c)) is true
//   {"echo": [s, ...]}  ->  {"code_units": [[u, ...], ...]}: to check the JSON round trip
import { createInterface } from "node:readline";

function compile(pattern) {
  try {
    return { regex: new RegExp(pattern) }; // no flags, as upstream uses it
  } catch (error) {
    if (error instanceof SyntaxError) return { error: `SyntaxError: ${error.message}` };
    throw error;
  }
}

function matchingCodeUnits(regex) {
  const ranges = [];
  for (let unit = 0; unit <= 0xffff; unit++) {
    if (!regex.test(String.fromCharCode(unit))) continue;
    const last = ranges[ranges.length - 1];
    if (last && last[1] === unit - 1) last[1] = unit;
    else ranges.push([unit, unit]);
  }
  return ranges;
}

function answer(request) {
  if (request.echo) {
    return {
      code_units: request.echo.map((s) => Array.from({ length: s.length }, (_, i) => s.charCodeAt(i))),
    };
  }
  const { regex, error } = compile(request.pattern);
  if (error) return { error };
  if (request.every_code_unit) return { ranges: matchingCodeUnits(regex) };
  return { results: request.inputs.map((input) => regex.test(input)) };
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line.trim() === "") continue;
  process.stdout.write(JSON.stringify(answer(JSON.parse(line))) + "\n");
}
