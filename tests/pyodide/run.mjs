// The Pyodide tier's Node side: load Pyodide, put the job's files into its in-memory file
// system, run driver.py there and write what it answers.
//   node run.mjs PYODIDE_DIR JOB.json ANSWERS.json
// PYODIDE_DIR is npm's pyodide package (./dev installs it into .node/node_modules/pyodide).
// Only Pyodide's own standard library is there: no package is loaded, nothing is fetched.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, jobPath, answersPath] = process.argv.slice(2);
const started = performance.now();
const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: pyodideDir + path.sep });
const loaded = performance.now();

const job = JSON.parse(readFileSync(jobPath, "utf8"));
const project = "/project";
for (const [name, text] of Object.entries(job.files)) {
  const target = path.posix.join(project, name);
  pyodide.FS.mkdirTree(path.posix.dirname(target));
  pyodide.FS.writeFile(target, text);
}
pyodide.FS.writeFile(path.posix.join(project, "job.json"), readFileSync(jobPath));

const answers = pyodide.runPython(`
import sys
sys.path.insert(0, ${JSON.stringify(project)})
import driver
driver.main(${JSON.stringify(project + "/job.json")})
`);
writeFileSync(answersPath, answers);
const ran = performance.now();
console.error(
  `pyodide ${pyodide.version}: loaded in ${((loaded - started) / 1000).toFixed(1)} s, ` +
    `cases ran in ${((ran - loaded) / 1000).toFixed(1)} s`,
);
