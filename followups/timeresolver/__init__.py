"""Deterministic resolver for contact-time expressions ("напиши через 2 часа", "tmrw morning").

    resolve_text("завтра после обеда", now, "Asia/Makassar") -> Resolution
    resolve_fields({"weekday": "friday", "weekday_modifier": "next"}, now, tz) -> Resolution

Both share one arithmetic (docs/TIME_CONVENTIONS.md); STRUCTURED_SCHEMA is the JSON schema of
the fields an LLM tool can fill in. Pure Python, standard library only, no Django.
"""

from .fields import STRUCTURED_SCHEMA, ResolverInputError
from .resolver import (
    DEFAULT_TZ,
    MAX_TEXT_LENGTH,
    get_zone,
    local_now,
    resolve_fields,
    resolve_text,
)
from .result import Resolution, Status

__all__ = [
    "DEFAULT_TZ",
    "MAX_TEXT_LENGTH",
    "STRUCTURED_SCHEMA",
    "Resolution",
    "ResolverInputError",
    "Status",
    "get_zone",
    "local_now",
    "resolve_fields",
    "resolve_text",
]
