"""What the service is configured with, and the defaults of the serve command."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .ratelimit import RateLimit

DEFAULT_MAX_BODY = 16 * 1024 * 1024
DEFAULT_RATE_LIMIT = RateLimit(100, 10)


@dataclass(frozen=True)
class Settings:
    """The app's options (the serve command's, less where to listen and store)."""

    public_url: str
    max_body: int = DEFAULT_MAX_BODY
    rate_limit: Optional[RateLimit] = field(default=DEFAULT_RATE_LIMIT)
