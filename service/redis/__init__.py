"""The Redis backend: many service processes over one Redis, read by LaunchDarkly's SDKs.

- client.py: connections with timeouts; Redis failures as StoreUnavailable
- scripts.py: the Lua scripts (one per request, each atomic)
- store.py: the SegmentStore, in the layout the SDKs' Redis Big Segment store reads
- registry.py: environments and tokens
- ratelimit.py: the per-token rate limit, shared by every process
"""
