"""Password hashing with argon2id (argon2-cffi), shared by the web UI and `nvr user`.

Only the encoded hash (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`) ever reaches the
log. Verification reads the cost from the hash, so raising the cost later still accepts
old hashes.
"""

from __future__ import annotations

import threading

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    """Hashes and checks passwords; at most `concurrency` checks run at once, so a burst
    of logins cannot take every core (argon2id is meant to be expensive)."""

    def __init__(
        self,
        time_cost: int = 3,
        memory_kib: int = 64 * 1024,
        parallelism: int = 4,
        concurrency: int = 2,
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._slots = threading.BoundedSemaphore(concurrency)
        # Checked when the account does not exist, so both answers take the same time.
        self._dummy = self._hasher.hash("no such account: constant-time answer")

    def hash(self, password: str) -> str:
        with self._slots:
            return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; a missing or malformed hash is checked against a
        dummy so the time taken says nothing about whether the account exists."""
        with self._slots:
            try:
                return self._hasher.verify(password_hash or self._dummy, password) and bool(
                    password_hash
                )
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False
