// The playground page. Two editors (a textarea over a layer that draws the diagnostics'
// underlines), one debounced POST to api/try per pause in typing, and the panels that
// show its answer: diagnostics, HTTP response, to_json() result, generated module.
// No framework and no build step: this file is what the browser runs.
"use strict";

const DEBOUNCE_MS = 250;
const HIGHLIGHT_MAX = 200 * 1024; // characters; longer outputs are shown as plain text

const $ = (id) => document.getElementById(id);

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// --- positions: the server counts 1-based lines and code points, the page UTF-16 ---

function lineStarts(text) {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

function offsetOf(text, starts, line, column) {
  if (line > starts.length) return text.length;
  let i = starts[line - 1];
  if (line === 1 && text.charCodeAt(0) === 0xfeff) i += 1; // the server drops a BOM
  for (let c = 1; c < column && i < text.length && text[i] !== "\n"; c++) {
    const code = text.charCodeAt(i);
    i += code >= 0xd800 && code < 0xdc00 ? 2 : 1; // an astral character is one column
  }
  return Math.min(i, text.length);
}

function lineOf(starts, offset) {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (starts[middle] <= offset) low = middle;
    else high = middle - 1;
  }
  return low + 1;
}

// --- the editor --------------------------------------------------------------------

class Editor {
  constructor(container, label, onChange) {
    this.gutter = document.createElement("pre");
    this.gutter.className = "gutter";
    this.gutter.setAttribute("aria-hidden", "true");
    const surface = document.createElement("div");
    surface.className = "surface";
    this.marks = document.createElement("pre");
    this.marks.className = "marks";
    this.marks.setAttribute("aria-hidden", "true");
    this.area = document.createElement("textarea");
    this.area.wrap = "off";
    this.area.spellcheck = false;
    this.area.setAttribute("autocomplete", "off");
    this.area.setAttribute("autocapitalize", "off");
    this.area.setAttribute("aria-label", label);
    surface.append(this.marks, this.area);
    container.append(this.gutter, surface);
    this.ranges = []; // {start, end, level, index}: offsets in this.text
    this.text = "";
    this.area.addEventListener("input", () => {
      this.shiftRanges(this.text, this.area.value);
      this.render();
      onChange();
    });
    this.area.addEventListener("scroll", () => this.syncScroll());
    this.area.addEventListener("keydown", (event) => {
      if (event.key === "Tab" && !event.shiftKey && !event.ctrlKey && !event.altKey) {
        event.preventDefault(); // indent, as in any code editor; Shift-Tab leaves
        document.execCommand("insertText", false, "  ");
      }
    });
    this.render();
  }

  get value() {
    return this.area.value;
  }

  set value(text) {
    this.area.value = text;
    this.ranges = [];
    this.render();
    this.area.scrollTop = 0;
    this.syncScroll();
  }

  setRanges(ranges) {
    this.ranges = ranges;
    this.render();
  }

  // Keep the marks on their text while the partner types, until the next answer.
  shiftRanges(before, after) {
    let prefix = 0;
    const shortest = Math.min(before.length, after.length);
    while (prefix < shortest && before[prefix] === after[prefix]) prefix++;
    let suffix = 0;
    while (suffix < shortest - prefix && before[before.length - 1 - suffix] === after[after.length - 1 - suffix]) suffix++;
    const editEnd = before.length - suffix;
    const delta = after.length - before.length;
    for (const range of this.ranges) {
      if (range.end <= prefix) continue;
      if (range.start >= editEnd) {
        range.start += delta;
        range.end += delta;
      } else {
        range.start = Math.min(range.start, prefix);
        range.end = Math.max(range.start, range.end >= editEnd ? range.end + delta : after.length - suffix);
      }
    }
  }

  render() {
    const text = this.area.value;
    this.text = text;
    const starts = lineStarts(text);
    const worst = new Map(); // line -> "error" | "warning"
    for (const range of this.ranges) {
      const line = lineOf(starts, range.start);
      if (worst.get(line) !== "error") worst.set(line, range.level);
    }
    const numbers = [];
    for (let line = 1; line <= starts.length; line++) {
      const level = worst.get(line);
      numbers.push(level ? `<span class="${level}">${line}</span>` : String(line));
    }
    this.gutter.innerHTML = numbers.join("\n");
    this.marks.innerHTML = markedHtml(text, this.ranges) + "\n";
    this.syncScroll();
  }

  syncScroll() {
    this.marks.scrollTop = this.area.scrollTop;
    this.marks.scrollLeft = this.area.scrollLeft;
    this.gutter.scrollTop = this.area.scrollTop;
  }

  select(start, end) {
    this.area.focus();
    this.area.setSelectionRange(start, end);
    const line = lineOf(lineStarts(this.area.value), start);
    const lineHeight = parseFloat(getComputedStyle(this.area).lineHeight) || 18;
    const top = (line - 1) * lineHeight;
    if (top < this.area.scrollTop || top > this.area.scrollTop + this.area.clientHeight - 2 * lineHeight) {
      this.area.scrollTop = Math.max(0, top - this.area.clientHeight / 3);
    }
    this.syncScroll();
  }

  replace(start, end, text) {
    this.area.focus();
    this.area.setSelectionRange(start, end);
    // insertText keeps the edit on the undo stack; setRangeText is the fallback.
    if (!document.execCommand("insertText", false, text)) {
      this.area.setRangeText(text, start, end, "end");
      this.area.dispatchEvent(new Event("input"));
    }
  }
}

function markedHtml(text, ranges) {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || b.end - a.end);
  let html = "";
  let at = 0;
  for (const range of sorted) {
    const start = Math.max(range.start, at);
    let end = Math.max(range.end, start);
    if (start >= text.length || text[start] === "\n") {
      if (start === range.start && start >= at) {
        // nothing to underline (the end of a line): mark one blank column
        html += escapeHtml(text.slice(at, start)) + `<mark class="${range.level}"> </mark>`;
        at = start;
      }
      continue;
    }
    if (end === start) end = start + 1;
    html += escapeHtml(text.slice(at, start));
    html += `<mark class="${range.level}" data-index="${range.index}">${escapeHtml(text.slice(start, end))}</mark>`;
    at = end;
  }
  return html + escapeHtml(text.slice(at));
}

// --- highlighting ------------------------------------------------------------------

const PYTHON = new RegExp(
  [
    String.raw`(#[^\n]*)`,
    String.raw`((?<!\w)[rRbBfFuU]{0,2}(?:"""[\s\S]*?"""|'''[\s\S]*?'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'))`,
    String.raw`\b(and|as|assert|async|await|break|class|continue|def|del|elif|else|except|finally|for|from|global|if|import|in|is|lambda|nonlocal|not|or|pass|raise|return|try|while|with|yield|None|True|False)\b`,
    String.raw`((?<=\bdef |\bclass )\w+)`,
    String.raw`\b(\d[\d_]*(?:\.\d+)?)\b`,
  ].join("|"),
  "g",
);
const PYTHON_CLASSES = [null, "t-comment", "t-string", "t-keyword", "t-name", "t-number"];

const JSON_TOKENS = /("(?:[^"\\\n]|\\.)*")(\s*:)?|\b(true|false|null)\b|(-?\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b)/g;

function highlighted(text, pattern, classify) {
  if (text.length > HIGHLIGHT_MAX) return escapeHtml(text);
  let html = "";
  let at = 0;
  for (const match of text.matchAll(pattern)) {
    const kind = classify(match);
    html += escapeHtml(text.slice(at, match.index));
    html += `<span class="${kind}">${escapeHtml(match[0])}</span>`;
    at = match.index + match[0].length;
  }
  return html + escapeHtml(text.slice(at));
}

function python(text) {
  return highlighted(text, PYTHON, (m) => PYTHON_CLASSES[m.findIndex((g, i) => i > 0 && g !== undefined)]);
}

function json(text) {
  return highlighted(text, JSON_TOKENS, (m) =>
    m[1] !== undefined ? (m[2] !== undefined ? "t-key" : "t-string") : m[3] !== undefined ? "t-literal" : "t-number",
  );
}

// JSON.stringify(value, null, 2), but a short array of plain values stays on one
// line: "added": ["u1", "u2"] reads better than four lines.
function pretty(value, indent = "") {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    const plain = value.every((v) => v === null || typeof v !== "object");
    const flat = plain ? `[${value.map((v) => JSON.stringify(v)).join(", ")}]` : "";
    if (plain && flat.length + inner.length <= 80) return flat;
    return `[\n${value.map((v) => inner + pretty(v, inner)).join(",\n")}\n${indent}]`;
  }
  const entries = Object.entries(value);
  if (!entries.length) return "{}";
  const lines = entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${pretty(v, inner)}`);
  return `{\n${lines.join(",\n")}\n${indent}}`;
}

function none(text) {
  return `<span class="none">${escapeHtml(text)}</span>`;
}

// --- the page ----------------------------------------------------------------------

const state = {
  integrations: [],
  inFlight: false,
  again: false,
  timer: 0,
  shown: null, // the answer on screen, and the manifest text it was computed for
  shownManifest: "",
};

let manifestEditor;
let bodyEditor;

// data-busy="1" while the panels do not yet show the answer for the current text
// (the browser test waits on it).
function setStatus(text, kind = "", busy = false) {
  const status = $("status");
  status.textContent = text;
  status.className = kind;
  status.dataset.busy = busy ? "1" : "0";
}

function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(tryIt, DEBOUNCE_MS);
  setStatus("editing…", "", true);
}

// One request in flight: edits made meanwhile are sent when it returns.
async function tryIt() {
  clearTimeout(state.timer);
  state.timer = 0;
  if (state.inFlight) {
    state.again = true;
    return;
  }
  state.inFlight = true;
  state.again = false;
  const sent = {
    key: $("key").value.trim(),
    manifest: manifestEditor.value,
    body: bodyEditor.value,
    black: $("black").checked,
  };
  setStatus("compiling…", "", true);
  let status;
  let answer;
  try {
    const response = await fetch("api/try", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(sent),
    });
    status = response.status;
    answer = await response.json();
  } catch (problem) {
    state.inFlight = false;
    setStatus(`no answer from the playground server (is it still running?): ${problem.message}`, "failed");
    return;
  }
  state.inFlight = false;
  if (state.again) {
    tryIt();
    return;
  }
  if (status === 200) show(answer, sent);
  else showRefusal(status, answer);
  if (state.timer) $("status").dataset.busy = "1"; // typed meanwhile: more to come
}

function showRefusal(status, answer) {
  state.shown = null;
  const list = $("diagnostics");
  list.innerHTML = "";
  const item = document.createElement("li");
  item.className = "refused";
  item.textContent = `${status}: ${answer.error}`;
  list.append(item);
  $("diagnostic-count").textContent = "";
  for (const id of ["response", "result", "module"]) $(id).innerHTML = none("not tried: the playground refused the request");
  manifestEditor.setRanges([]);
  setStatus(`not tried: ${answer.error}`, "failed");
}

function show(answer, sent) {
  state.shown = answer;
  state.shownManifest = sent.manifest;
  const diagnostics = answer.diagnostics;
  if (manifestEditor.value === sent.manifest) manifestEditor.setRanges(rangesOf(diagnostics, sent.manifest));
  showDiagnostics(diagnostics);
  showResponse(answer);
  showModule(answer);
  const errors = diagnostics.filter((d) => d.level === "error").length;
  if (errors) setStatus(`${plural(errors, "error")}: nothing to try`, "failed");
  else setStatus(`compiled and tried in ${answer.milliseconds} ms`, "passed");
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function rangesOf(diagnostics, text) {
  const starts = lineStarts(text);
  const ranges = [];
  diagnostics.forEach((d, index) => {
    if (!d.line) return;
    const start = offsetOf(text, starts, d.line, d.column);
    const end = d.end_line ? offsetOf(text, starts, d.end_line, d.end_column) : start + 1;
    ranges.push({ start, end, level: d.level, index });
  });
  return ranges;
}

function showDiagnostics(diagnostics) {
  const list = $("diagnostics");
  list.innerHTML = "";
  const errors = diagnostics.filter((d) => d.level === "error").length;
  const warnings = diagnostics.length - errors;
  $("diagnostic-count").textContent = diagnostics.length
    ? `${plural(errors, "error")}, ${plural(warnings, "warning")}`
    : "";
  if (!diagnostics.length) {
    const item = document.createElement("li");
    item.className = "clean";
    item.textContent = "No errors, no warnings.";
    list.append(item);
    return;
  }
  diagnostics.forEach((d, index) => {
    const item = document.createElement("li");
    item.className = d.level;
    item.dataset.index = index;
    item.dataset.code = d.code;
    const where = d.line ? `${d.line}:${d.column}` : d.file;
    item.innerHTML =
      `<button type="button" class="where">${escapeHtml(where)}</button> ` +
      `<span class="level">${d.level}</span> <span class="message">${escapeHtml(d.message)}</span> ` +
      `<span class="code">[${escapeHtml(d.code)}]</span>` +
      (d.pointer ? `<div class="pointer">at ${escapeHtml(d.pointer)}</div>` : "") +
      `<div class="fix">fix: ${escapeHtml(d.fix)}</div>` +
      (d.fix_range ? applyButton(d.fix_range.text) : "");
    item.addEventListener("click", () => jumpTo(d));
    const apply = item.querySelector(".apply");
    if (apply) {
      apply.addEventListener("click", (event) => {
        event.stopPropagation();
        applyFix(d.fix_range);
      });
    }
    list.append(item);
  });
}

function applyButton(replacement) {
  // a whole template does not fit on a button: it is in the button's tooltip
  const label = replacement.length <= 60 ? `Apply fix: ${replacement}` : "Apply the fix";
  return `<button type="button" class="apply" title="${escapeHtml(replacement)}">${escapeHtml(label)}</button>`;
}

function jumpTo(d) {
  if (!d.line || manifestEditor.value !== state.shownManifest) return;
  const [range] = rangesOf([d], state.shownManifest);
  manifestEditor.select(range.start, range.end);
  showCaretNote();
}

function applyFix(fix) {
  if (manifestEditor.value !== state.shownManifest) return; // an answer is on its way
  const text = manifestEditor.value;
  const starts = lineStarts(text);
  const start = offsetOf(text, starts, fix.line, fix.column);
  const end = offsetOf(text, starts, fix.end_line, fix.end_column);
  manifestEditor.replace(start, end, fix.text);
}

function showResponse(answer) {
  const response = answer.response;
  if (!response) {
    const why = answer.module ? answer.notes.join("; ") || "no body tried" : "no module: fix the errors first";
    $("response").innerHTML = none(why);
    $("result").innerHTML = none(why);
    return;
  }
  const lines = [`<span class="status-line s${String(response.status)[0]}">HTTP/1.1 ${response.status} ${escapeHtml(response.reason)}</span>`];
  for (const [name, value] of Object.entries(response.headers)) {
    lines.push(`<span class="header-name">${escapeHtml(name)}</span>: ${escapeHtml(value)}`);
  }
  let body = "";
  if (response.body) body = "\n\n" + (looksLikeJson(response.body) ? json(response.body) : escapeHtml(response.body));
  $("response").innerHTML = lines.join("\n") + body;
  $("result").innerHTML = response.result
    ? json(pretty(response.result))
    : `<span class="none">refused:</span> ${escapeHtml(response.error || "")}`;
}

function looksLikeJson(text) {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function showModule(answer) {
  const notes = answer.notes.filter((n) => n.includes("black"));
  if (!answer.module) {
    $("module").innerHTML = none("no module: the manifest has errors");
    $("module-note").textContent = "";
    return;
  }
  $("module").innerHTML = python(answer.module);
  $("module-note").textContent = notes.length
    ? notes.join("; ")
    : answer.formatted
      ? "formatted with black, as build writes it"
      : "as emitted, before black (build formats it: tick “format with black”)";
}

function showCaretNote() {
  const note = $("caret-note");
  const answer = state.shown;
  if (!answer || manifestEditor.value !== state.shownManifest) {
    note.textContent = "";
    return;
  }
  const caret = manifestEditor.area.selectionStart;
  const ranges = rangesOf(answer.diagnostics, state.shownManifest);
  const starts = lineStarts(state.shownManifest);
  const line = lineOf(starts, caret);
  const here =
    ranges.find((r) => r.start <= caret && caret <= r.end) || ranges.find((r) => lineOf(starts, r.start) === line);
  if (!here) {
    note.textContent = "";
    note.className = "caret-note";
    return;
  }
  const d = answer.diagnostics[here.index];
  note.textContent = `${d.line}:${d.column} ${d.level}: ${d.message}`;
  note.className = `caret-note ${d.level}`;
}

// --- shipped integrations ------------------------------------------------------------

async function loadIntegrations() {
  const response = await fetch("api/integrations");
  const data = await response.json();
  state.integrations = data.integrations;
  const pick = $("pick");
  for (const integration of data.integrations) {
    const examples = integration.examples.length ? integration.examples : [{ name: "", body: "" }];
    for (const example of examples) {
      const option = document.createElement("option");
      option.value = example.name ? `${integration.key}/${example.name}` : integration.key;
      option.textContent = example.name ? `${integration.key} — ${example.name}` : integration.key;
      pick.append(option);
    }
  }
  const wanted = decodeURIComponent(location.hash.slice(1));
  const values = [...pick.options].map((o) => o.value);
  pick.value = values.includes(wanted) ? wanted : values[1] || "";
  if (pick.value) startFrom(pick.value);
  else {
    manifestEditor.value = STARTER;
    tryIt();
  }
}

// Where to begin when the playground has no shipped manifests to offer.
const STARTER = `{
  "name": "My integration",
  "capabilities": {
    "syncedSegment": {
      "requestParser": {
        "environmentIdPath": "/environmentId",
        "cohortIdPath": "/cohortId",
        "addMemberArrayPath": "/add",
        "removeMemberArrayPath": "/remove",
        "memberArrayParser": { "memberIdPath": "/id" }
      }
    }
  }
}
`;

function startFrom(value) {
  if (!value) return; // "(your own manifest)": keep what is in the editors
  const [key, name] = value.split("/");
  const integration = state.integrations.find((i) => i.key === key);
  const example = integration.examples.find((e) => e.name === name);
  manifestEditor.value = integration.manifest;
  bodyEditor.value = example ? example.body : "";
  $("key").value = key;
  $("key-echo").textContent = key;
  history.replaceState(null, "", `#${value}`);
  tryIt();
}

function main() {
  manifestEditor = new Editor($("manifest-editor"), "manifest.json", schedule);
  bodyEditor = new Editor($("body-editor"), "request body", schedule);
  for (const event of ["keyup", "click", "focus"]) manifestEditor.area.addEventListener(event, showCaretNote);
  $("pick").addEventListener("change", (event) => startFrom(event.target.value));
  $("key").addEventListener("input", () => {
    $("key-echo").textContent = $("key").value.trim();
    schedule();
  });
  $("black").addEventListener("change", tryIt);
  loadIntegrations().catch((problem) => setStatus(`could not load the integrations: ${problem.message}`, "failed"));
}

main();
