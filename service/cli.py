"""The command line: serve, token create/list/revoke, environment add/list, export-sdk."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from .access import ACTIONS, BUILT_IN_ROLES, CUSTOM_ROLE, TokenInfo, parse_actions
from .backends import open_backend
from .sdk import sdk_segments
from .settings import (
    DEFAULT_ENVIRONMENT,
    ENVIRONMENT_HELP,
    SERVE_OPTIONS,
    STORE_OPTIONS,
    ConfigError,
    add_options,
    environment_keys,
    resolve,
    serve_settings,
)
from .store import Registry, RegistryError, StoreUnavailable, iso_time


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args)
        return status
    except ConfigError as error:  # as argparse does for a bad flag
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (StoreUnavailable, RegistryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m service",
        description="The segment sync service: partners post cohorts, people read "
        "segments. Start it with `python -m service serve`.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    store = argparse.ArgumentParser(add_help=False)
    add_options(store, STORE_OPTIONS)

    serve_parser = commands.add_parser(
        "serve",
        help="run the HTTP service",
        description="Run the HTTP service. On first start with an empty store it "
        "creates a default environment and a writer token, and prints them once "
        "with curl lines to try.",
        epilog=ENVIRONMENT_HELP,
    )
    add_options(serve_parser, SERVE_OPTIONS)
    serve_parser.set_defaults(run=run_serve)

    token = commands.add_parser(
        "token", help="create, list and revoke access tokens"
    ).add_subparsers(title="token commands", required=True, metavar="COMMAND")
    create = token.add_parser(
        "create",
        parents=[store],
        help="create a token and print it, once",
        description="Create an access token and print it (only this once; the store "
        "keeps a hash). Give a built-in role or a custom role's actions.",
    )
    role = create.add_mutually_exclusive_group(required=True)
    role.add_argument("--role", choices=list(BUILT_IN_ROLES), help="a built-in role")
    role.add_argument(
        "--actions",
        type=actions,
        metavar="A,B,...",
        help="a custom role: the allowed actions among " + ", ".join(ACTIONS),
    )
    create.add_argument("--name", default="", help="a label for token list")
    create.set_defaults(run=run_token_create)
    listing = token.add_parser(
        "list", parents=[store], help="list tokens (never the tokens themselves)"
    )
    listing.set_defaults(run=run_token_list)
    revoke = token.add_parser(
        "revoke", parents=[store], help="revoke a token: its requests get 403"
    )
    revoke.add_argument("id", metavar="ID", help="the token id, as token list shows")
    revoke.set_defaults(run=run_token_revoke)

    environment = commands.add_parser(
        "environment", help="add and list environments"
    ).add_subparsers(title="environment commands", required=True, metavar="COMMAND")
    add = environment.add_parser(
        "add",
        parents=[store],
        help="map a client-side id to a project key and environment key",
        description="Add an environment: bodies whose environmentId is "
        "CLIENT_SIDE_ID sync segments of PROJECT_KEY/ENVIRONMENT_KEY.",
    )
    add.add_argument("client_side_id", metavar="CLIENT_SIDE_ID")
    add.add_argument("project_key", metavar="PROJECT_KEY")
    add.add_argument("environment_key", metavar="ENVIRONMENT_KEY")
    add.set_defaults(run=run_environment_add)
    environment.add_parser(
        "list", parents=[store], help="list environments"
    ).set_defaults(run=run_environment_list)

    export = commands.add_parser(
        "export-sdk",
        parents=[store],
        help="write the segment definitions LaunchDarkly's SDKs read, as JSON",
        description='Write {"segments": {key: definition}} for one environment, each '
        "definition as LaunchDarkly's server-side SDKs read it (unbounded, with its "
        "generation): give the file to an SDK's file data source beside your flags. "
        "The members stay in the Big Segment store; definitions change only when a "
        "segment is created.",
    )
    export.add_argument(
        "--environment",
        type=argparse_environment,
        default=DEFAULT_ENVIRONMENT,
        metavar="PROJECT/ENVIRONMENT",
        help=f"default: {DEFAULT_ENVIRONMENT}",
    )
    export.add_argument(
        "--out",
        metavar="FILE",
        help="write here (replaced whole, never half-written); default: stdout",
    )
    export.set_defaults(run=run_export_sdk)
    return parser


# --- option types


def argparse_environment(text: str) -> tuple[str, str]:
    try:
        return environment_keys(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def actions(text: str) -> frozenset[str]:
    try:
        return parse_actions(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# --- commands


def run_serve(args: argparse.Namespace) -> int:
    # imported here: the other commands start fast without FastAPI and uvicorn
    from .serve import StartupError, serve

    try:
        serve(serve_settings(args, os.environ))
    except StartupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def open_registry(args: argparse.Namespace) -> Registry:
    values, _ = resolve(args, STORE_OPTIONS, os.environ)
    return open_backend(values["db"], values["store"], values["key_prefix"]).registry


def run_token_create(args: argparse.Namespace) -> int:
    registry = open_registry(args)
    if args.role is not None:
        info, token = registry.create_token(args.role, name=args.name)
    else:
        info, token = registry.create_token(CUSTOM_ROLE, args.actions, args.name)
    # The token alone on stdout (TOKEN=$(python -m service token create ...)); the
    # rest on stderr.
    print(f"created token {info.id} ({describe(info)})", file=sys.stderr)
    print(token, flush=True)
    print("this is the only time the token is shown: keep it safe", file=sys.stderr)
    return 0


def run_token_list(args: argparse.Namespace) -> int:
    tokens = open_registry(args).list_tokens()
    rows = [("ID", "ROLE", "CREATED", "REVOKED", "NAME")]
    for info in tokens:
        revoked = iso_time(info.revoked_at) if info.revoked_at is not None else "-"
        rows.append(
            (info.id, describe(info), iso_time(info.created_at), revoked, info.name)
        )
    print_table(rows)
    return 0


def run_token_revoke(args: argparse.Namespace) -> int:
    info = open_registry(args).revoke_token(args.id)
    print(f"revoked token {info.id} ({describe(info)})")
    return 0


def run_environment_add(args: argparse.Namespace) -> int:
    environment = open_registry(args).add_environment(
        args.client_side_id, args.project_key, args.environment_key
    )
    print(
        f"added environment {environment.project_key}/{environment.environment_key} "
        f"with client-side id {environment.client_side_id}"
    )
    return 0


def run_environment_list(args: argparse.Namespace) -> int:
    rows = [("CLIENT-SIDE ID", "PROJECT", "ENVIRONMENT")]
    for environment in open_registry(args).list_environments():
        rows.append(
            (
                environment.client_side_id,
                environment.project_key,
                environment.environment_key,
            )
        )
    print_table(rows)
    return 0


def run_export_sdk(args: argparse.Namespace) -> int:
    values, _ = resolve(args, STORE_OPTIONS, os.environ)
    backend = open_backend(values["db"], values["store"], values["key_prefix"])
    try:
        project_key, environment_key = args.environment
        environment = backend.registry.environment_by_keys(project_key, environment_key)
        if environment is None:
            raise RegistryError(
                f'project "{project_key}" has no environment "{environment_key}" '
                "(see: python -m service environment list)"
            )
        segments = sdk_segments(backend.store, environment)
    finally:
        backend.store.close()
    text = json.dumps({"segments": segments}, indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_whole(Path(args.out), text)
        print(
            f"wrote {len(segments)} segment definitions to {args.out}", file=sys.stderr
        )
    return 0


def write_whole(path: Path, text: str) -> None:
    """Replace path with text at once: an SDK watching the file never reads half of it."""
    handle, temporary = tempfile.mkstemp(
        dir=path.parent or Path("."), prefix=".export-"
    )
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def describe(info: TokenInfo) -> str:
    if info.role != CUSTOM_ROLE:
        return info.role
    return "custom: " + ",".join(sorted(info.actions))


def print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
