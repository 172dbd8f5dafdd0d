"""The partner playground: `python -m compiler playground`.

A page on localhost where a partner edits a manifest and a request body and sees, as
they type, what `python -m compiler try` would print: the diagnostics (marked in the
editor), the generated module, the `to_json()` result and the HTTP response. `api`
answers the page's one JSON request with `compiler.trial.try_manifest`; `server` serves
it and the page (`static/`, hand-written, no external asset) with the standard
library's `http.server`, so the compiler gains no web dependency.
"""
