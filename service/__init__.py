"""The segment sync service: an HTTP endpoint partners post cohorts to, access tokens, and
a SQLite segment store. Start it with `python -m service serve`; see service/README.md.
"""
