"""The segment-targets endpoint after the checks on headers: a body in, a response out.

Runs in a worker thread (it parses and writes to the store). Every answer goes through
the generated runtime, so an integration with a jsonResponseBody gets its body on every
status, the service's own (403, 409, 503...) included.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Optional

import generated
from generated import ParseError, SyncRequest

from .access import CREATE_SEGMENT, UPDATE_INCLUDED, Principal, not_allowed
from .backends import AnyRegistry
from .store import (
    ContextKindConflict,
    CreationRefused,
    Environment,
    IntegrationConflict,
    SegmentStore,
    StoreUnavailable,
)

log = logging.getLogger("service.ingest")

# (status, headers, body), as the generated runtime answers
RawResponse = tuple[int, dict[str, str], bytes]
RETRY_AFTER_SECONDS = 1  # how soon to retry when the store is unavailable
NOTHING_APPLIED = "; nothing was applied"


class Ingest:
    """Parse a body with the integration's generated module, then apply it to the store."""

    def __init__(
        self, registry: AnyRegistry, store: SegmentStore, public_url: str
    ) -> None:
        self.registry = registry
        self.store = store
        self.public_url = public_url

    def apply_body(
        self, module: ModuleType, principal: Principal, body: bytes
    ) -> RawResponse:
        """400, 403, 409, 503 or success for one request body; 500 only for a bug."""
        doc: object = None
        environment: Optional[Environment] = None
        try:
            doc, sync = generated.read_request(module.parse, body)
            if isinstance(sync, ParseError):
                raise sync
            environment = self.registry.environment_by_client_id(sync.environment_id)
            if environment is None:
                raise unknown_environment(sync.environment_id)
            if changes_members(sync) and not principal.allows(UPDATE_INCLUDED):
                message = not_allowed(principal, UPDATE_INCLUDED, "changing members")
                raise ParseError(403, "action_not_allowed", message + NOTHING_APPLIED)
            self.apply(environment, sync, principal)
            return generated.success_response(
                module,
                doc,
                sync,
                self.public_url,
                environment.project_key,
                environment.environment_key,
            )
        except ParseError as error:
            return self.refuse(module, doc, error, environment)
        except StoreUnavailable as error:
            log.warning("%s", error)
            return self.unavailable(module, doc, environment)
        except Exception:
            log.exception("bug while applying a request")
            internal = ParseError(500, "internal_error", "internal error")
            return self.refuse(module, doc, internal, environment)

    def apply(
        self, environment: Environment, sync: SyncRequest, principal: Principal
    ) -> None:
        """store.apply, its refusals as the ParseError of their status."""
        try:
            self.store.apply(
                environment, sync, may_create=principal.allows(CREATE_SEGMENT)
            )
        except CreationRefused as refusal:
            raise ParseError(403, "action_not_allowed", str(refusal)) from None
        except ContextKindConflict as conflict:
            raise ParseError(409, "context_kind_conflict", str(conflict)) from None
        except IntegrationConflict as conflict:
            raise ParseError(409, "integration_conflict", str(conflict)) from None

    def refuse(
        self,
        module: Optional[ModuleType],
        doc: object,
        error: ParseError,
        environment: Optional[Environment] = None,
        headers: Optional[dict[str, str]] = None,
    ) -> RawResponse:
        """The error as the integration answers it: its jsonResponseBody, or code+message."""
        try:
            if environment is None:  # the runtime's defaults, as generated.handle uses
                rendered = generated.error_response(module, doc, error, self.public_url)
            else:
                rendered = generated.error_response(
                    module,
                    doc,
                    error,
                    self.public_url,
                    environment.project_key,
                    environment.environment_key,
                )
        except Exception:  # a template bug must still leave the caller an answer
            log.exception("bug while rendering an error response")
            rendered = (
                error.status,
                {"Content-Type": "application/json"},
                error.body(),
            )
        status, response_headers, body = rendered
        return status, {**response_headers, **(headers or {})}, body

    def unavailable(
        self,
        module: Optional[ModuleType],
        doc: object = None,
        environment: Optional[Environment] = None,
    ) -> RawResponse:
        error = ParseError(
            503,
            "store_unavailable",
            "the segment store is unavailable; nothing was applied, retry later",
        )
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return self.refuse(module, doc, error, environment, retry)


def changes_members(sync: SyncRequest) -> bool:
    return any(change.added or change.removed for change in sync.changes)


def unknown_environment(environment_id: str) -> ParseError:
    return ParseError(
        400,
        "unknown_environment",
        f'environmentId "{environment_id}" is not a client-side id of any environment '
        "here; check the id, or add it with: python -m service environment add "
        f"{environment_id} PROJECT_KEY ENVIRONMENT_KEY",
    )
