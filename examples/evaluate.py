"""Evaluate a flag on a synced segment with LaunchDarkly's Python SDK, offline.

    python examples/evaluate.py [--sqlite segments.db | --redis URL [--daemon]] KEY...

The flag comes from examples/flags.json, a file data source written by hand: a rule
with a `segmentMatch` clause on the segment `amplitude-power-users`, the one that the
Amplitude sample of `./dev serve` syncs. The segment's definition is not written by
hand: `python -m service export-sdk --out segments.json` writes it (`--segments`). Its
members are read where the service keeps them:

- `--sqlite PATH` (the default, segments.db): segment_sync_sdk's Big Segment store over
  the service's SQLite file, read-only;
- `--redis URL`: the SDK's own Redis Big Segment store, over the service's Redis;
- `--redis URL --daemon`: daemon mode, flags and segment definitions read from Redis too
  (the service run with `--sdk-definitions default/production` writes the definitions;
  this script puts the flags of flags.json there first, as a Relay Proxy would).

Prints one line per context key: the flag's value, why, and the Big Segment status.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ldclient import Context
from ldclient.client import LDClient
from ldclient.config import BigSegmentsConfig, Config
from ldclient.feature_store import CacheConfig
from ldclient.integrations import Files, Redis

HERE = Path(__file__).resolve().parent
FLAG = "power-users-beta"
PREFIX = "launchdarkly"


def sdk_config(args: argparse.Namespace) -> Config:
    """Offline: no LaunchDarkly connection, no events; data from files or Redis."""
    if args.redis is None:
        sys.path.insert(0, str(HERE.parent))  # segment_sync_sdk, when run from a clone
        from segment_sync_sdk.sqlite import SqliteBigSegmentStore

        store = SqliteBigSegmentStore(args.sqlite)
    else:
        store = Redis.new_big_segment_store(url=args.redis, prefix=PREFIX)
    big_segments = BigSegmentsConfig(store=store)
    if args.daemon:
        put_flags(args.redis, args.flags)
        return Config(
            sdk_key="sdk-offline",
            use_ldd=True,
            feature_store=Redis.new_feature_store(
                url=args.redis, prefix=PREFIX, caching=CacheConfig.disabled()
            ),
            big_segments=big_segments,
            send_events=False,
            diagnostic_opt_out=True,
        )
    return Config(
        sdk_key="sdk-offline",
        update_processor_class=Files.new_data_source(
            paths=[str(args.flags), str(args.segments)]
        ),
        big_segments=big_segments,
        send_events=False,
        diagnostic_opt_out=True,
    )


def put_flags(url: str, flags_file: Path) -> None:
    """The flags of flags_file into PREFIX:features, where daemon-mode SDKs read flags."""
    import redis

    flags = json.loads(flags_file.read_text())["flags"]
    client = redis.Redis.from_url(url)
    for key, flag in flags.items():
        client.hset(f"{PREFIX}:features", key, json.dumps(flag))
    client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keys", nargs="+", metavar="KEY", help="context keys (users)")
    parser.add_argument(
        "--sqlite",
        type=Path,
        default=Path("segments.db"),
        metavar="PATH",
        help="the service's SQLite file, read for members (default: segments.db)",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="read members from Redis, e.g. redis://127.0.0.1:6379/0",
    )
    parser.add_argument(
        "--daemon", action="store_true", help="with --redis: flags and definitions too"
    )
    parser.add_argument(
        "--flags", type=Path, default=HERE / "flags.json", help="a file data source"
    )
    parser.add_argument(
        "--segments",
        type=Path,
        default=Path("segments.json"),
        help="the segment definitions export-sdk wrote (default: segments.json)",
    )
    args = parser.parse_args()
    if args.daemon and args.redis is None:
        parser.error("--daemon reads flags and segments from Redis: give --redis too")
    # Said in one line here, rather than as the SDK's traceback and a timeout
    if args.redis is None and not args.sqlite.is_file():
        parser.error(
            f"--sqlite {args.sqlite}: no such file; start the service first "
            "(./dev serve writes segments.db), or name its file"
        )
    if not args.daemon and not args.segments.is_file():
        parser.error(
            f"--segments {args.segments}: no such file; write it first with "
            f"`python -m service export-sdk --out {args.segments}`"
        )
    client = LDClient(config=sdk_config(args), start_wait=5)
    try:
        if not client.is_initialized():
            print(
                "error: the SDK did not initialise (see its log above)", file=sys.stderr
            )
            return 1
        for key in args.keys:
            detail = client.variation_detail(FLAG, Context.create(key), False)
            reason = detail.reason
            print(
                f"{key}: {FLAG} = {json.dumps(detail.value)} ({reason['kind']}, "
                f"big segments {reason.get('bigSegmentsStatus', '-')})"
            )
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
