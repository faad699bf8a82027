"""Typed readers for settings that come from the environment.

A malformed value stops start-up with a message naming the variable, rather than
surfacing later as a confusing error deep inside a worker.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """An integer; an empty value (`NAME=` as .env.example ships it) means the default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true/false, got {raw!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEVELOPMENT_SECRET_KEY = "insecure-development-key-set-DJANGO_SECRET_KEY-in-production"
# Keys anyone can read: the development key and the .env.example placeholder.
PUBLIC_SECRET_KEYS = {DEVELOPMENT_SECRET_KEY, "change-me-to-a-long-random-string"}
SECRET_KEY_MIN_LENGTH = 50  # as Django's own deployment check (security.W009)


def env_secret_key(name: str, *, debug: bool) -> str:
    """The secret key. With DEBUG on anything goes (a public development key when unset);
    with DEBUG off a missing, blank, public or short key stops start-up."""
    key = os.environ.get(name, "")
    if debug:
        return key or DEVELOPMENT_SECRET_KEY
    if not key.strip():
        problem = "is not set"
    elif key in PUBLIC_SECRET_KEYS:
        problem = "is a public placeholder"
    elif len(key) < SECRET_KEY_MIN_LENGTH:
        problem = f"is too short ({len(key)} characters, at least {SECRET_KEY_MIN_LENGTH})"
    else:
        return key
    raise ImproperlyConfigured(
        f"{name} {problem}. Generate one with "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(50))' "
        "(DJANGO_DEBUG=true runs with a development key instead, never in production)"
    )
