"""Inside Pyodide (or any Python): run the job's cases through both forms, say what happened.

Standard library only, and no knowledge of the expected answers: tier.py (CPython) sends
a job {"files", "cases", "imports"} and compares what main() returns with its own
answers. The job's files are already beside this one (generated/ and
generated_single.py).
"""

import base64
import importlib.util
import json
import sys
import sysconfig

FORMS = ("generated", "generated_single")


def answer(module, case: dict) -> list:
    """[parse outcome or None, status, headers, base64 body] for one case."""
    key = case["key"]
    parsed = None
    if "doc" in case:
        try:
            parsed = ["ok", module.parse(key, case["doc"]).to_json()]
        except module.ParseError as error:
            parsed = ["error", error.status, error.code, error.message]
        body = json.dumps(case["doc"]).encode()
    else:
        body = base64.b64decode(case["body"])
    status, headers, payload = module.handle(key, body)
    return [parsed, status, headers, base64.b64encode(payload).decode()]


def foreign_modules(before: set, project: str) -> list:
    """Modules loaded since `before` from anywhere but the standard library and project."""
    # Pyodide's standard library is a zip on sys.path (/lib/python3NN.zip)
    zips = tuple(place for place in sys.path if place.endswith(".zip"))
    places = (sysconfig.get_paths()["stdlib"], project) + zips
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if name not in before
        and getattr(module, "__file__", None)
        and not module.__file__.startswith(places)
    )


def run(job: dict, project: str) -> dict:
    before = set(sys.modules)
    forms = {name: importlib.import_module(name) for name in FORMS}
    answers = {
        name: [answer(m, case) for case in job["cases"]] for name, m in forms.items()
    }
    return {
        "python": sys.version.split()[0],
        "implementation": sys.implementation.name,
        "platform": sys.platform,
        "small_c_stack": {n: m._runtime.SMALL_C_STACK for n, m in forms.items()},
        "answers": answers,
        "found": {
            name: importlib.util.find_spec(name) is not None for name in job["imports"]
        },
        "loaded": sorted(set(sys.modules) - before),
        "foreign": foreign_modules(before, project),
    }


def main(job_path: str) -> str:
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    project = job_path.rsplit("/", 1)[0]
    return json.dumps(run(job, project))


if __name__ == "__main__":  # under CPython: python driver.py JOB.json > ANSWERS.json
    sys.path.insert(0, sys.argv[1].rsplit("/", 1)[0])
    print(main(sys.argv[1]))
