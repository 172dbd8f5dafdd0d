"""What LaunchDarkly's server-side SDKs need to evaluate flags on segments this service syncs.

- layout.py (standard library only): the formats the SDKs read, shared with the service:
  the context hash, the Big Segment reference, a segment's definition.
- sqlite.py: `SqliteBigSegmentStore`, a Big Segment store for the Python SDK
  (`launchdarkly-server-sdk`) over the service's SQLite file, read-only.

An application that evaluates flags needs this package and the SDK, nothing of the
service (no FastAPI, no Redis client): `from segment_sync_sdk.sqlite import
SqliteBigSegmentStore`.
"""
