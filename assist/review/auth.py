"""Supervisor accounts, sessions and CSRF tokens for the review app."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections import deque
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from assist import paths
from assist.errors import StoreError

log = logging.getLogger(__name__)

SECRET_FILE = "review-secret.key"
MIN_PASSWORD = 8
USER_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
CSRF_FIELD = "csrf_token"

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def check_user_name(name: str) -> str:
    if not USER_NAME.fullmatch(name):
        raise StoreError(f"user name {name!r} is not allowed; use 1 to 64 letters, digits, "
                         "dots, dashes, underscores or @")
    return name


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise StoreError(f"the password is too short; use at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError):
        log.warning("a stored password hash is unreadable; reset it with `assist review add-user`")
        return False


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


class LoginThrottle:
    """Refuses more logins for a name from one address after repeated failures (pure: time in)."""

    def __init__(self, max_failures: int = 5, window_s: float = 300.0) -> None:
        self._max = max_failures
        self._window = window_s
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def blocked(self, name: str, address: str, now: float) -> bool:
        recent = self._recent(name, address, now)
        return recent is not None and len(recent) >= self._max

    def failed(self, name: str, address: str, now: float) -> None:
        recent = self._recent(name, address, now)
        if recent is None:
            recent = self._failures[(name.lower(), address)] = deque()
        recent.append(now)

    def succeeded(self, name: str, address: str) -> None:
        self._failures.pop((name.lower(), address), None)

    def _recent(self, name: str, address: str, now: float) -> deque[float] | None:
        recent = self._failures.get((name.lower(), address))
        while recent and recent[0] <= now - self._window:
            recent.popleft()
        return recent


def load_secret(path: Path | None = None) -> str:
    """The key that signs session cookies, made on first use in the data dir: readable by its
    owner only on POSIX (mode 600); on Windows the per-user data folder is private already."""
    path = path or paths.data_dir() / SECRET_FILE
    try:
        if path.exists():
            secret = path.read_text(encoding="ascii").strip()
            if len(secret) >= 32:
                return secret
        secret = secrets.token_urlsafe(48)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(secret, encoding="ascii")
        return secret
    except OSError as e:
        raise StoreError(f"cannot read or create the review app's key {path} ({e}); check the "
                         "data directory's permissions") from e
