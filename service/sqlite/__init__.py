"""The SQLite backend: one file in WAL mode, the default for one process.

- database.py: the schema, connections, transactions, SQLite errors as store errors
- store.py: the SegmentStore
- registry.py: environments and tokens, in the same file
"""
