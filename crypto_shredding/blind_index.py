"""Blind index: find a child by UPN, or by surname and date of birth, without decrypting.

Each identifier is normalised and hashed with HMAC-SHA256 under an index key
that is separate from every data key and KEK. An HMAC of a name is still
personal data, so a child's rows are deleted when that child is shredded.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Protocol
from uuid import UUID

from application.ports import SENDER_REF, SURNAME_DOB, UPN

__all__ = ["SENDER_REF", "SURNAME_DOB", "UPN", "BlindIndex", "BlindIndexStore"]


def normalise_upn(upn: str) -> str:
    return "".join(upn.split()).upper()


def normalise_surname(surname: str) -> str:
    """Case, accents, spaces, hyphens and apostrophes do not make a different person."""
    decomposed = unicodedata.normalize("NFKD", surname)
    return "".join(c for c in decomposed if c.isalpha()).casefold()


class BlindIndexStore(Protocol):
    """Storage of (child, kind, digest) rows."""

    def add(self, child_id: UUID, entries: Iterable[tuple[str, bytes]]) -> None: ...

    def find(self, kind: str, digest: bytes) -> list[UUID]: ...

    def find_many(
        self, entries: Iterable[tuple[str, bytes]]
    ) -> dict[tuple[str, bytes], list[UUID]]:
        """Every listed entry's children, in one round trip (missing entries: absent)."""

    def add_many(self, rows: Iterable[tuple[UUID, str, bytes]]) -> None:
        """Many children's rows in one round trip."""

    def remove_children(self, child_ids: Sequence[UUID]) -> int: ...

    def digests_of(self, child_ids: Sequence[UUID], kind: str) -> dict[UUID, set[bytes]]:
        """The children's digests of one kind (the shred cascade's sender references)."""

    def remove_entries(self, child_id: UUID, kind: str) -> None: ...

    def count_for(self, child_id: UUID) -> int: ...


class BlindIndex:
    """Computes digests and keeps them in a :class:`BlindIndexStore`."""

    def __init__(self, key: bytes, store: BlindIndexStore) -> None:
        self._key = key
        self.store = store

    def digest(self, kind: str, normalised: str) -> bytes:
        message = kind.encode() + b"\x00" + normalised.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def entries(
        self, upn: str | None, surname: str, date_of_birth: date, forenames: str
    ) -> list[tuple[str, bytes]]:
        result = [self.surname_dob_entry(surname, date_of_birth, forenames)]
        if upn:
            result.append(self.upn_entry(upn))
        return result

    def upn_entry(self, upn: str) -> tuple[str, bytes]:
        return UPN, self.digest(UPN, normalise_upn(upn))

    def surname_dob_entry(
        self, surname: str, date_of_birth: date, forenames: str
    ) -> tuple[str, bytes]:
        """Surname, first forename and date of birth: twins share the rest."""
        first = normalise_surname(forenames.split(maxsplit=1)[0]) if forenames.split() else ""
        normalised = f"{normalise_surname(surname)}|{first}|{date_of_birth.isoformat()}"
        return SURNAME_DOB, self.digest(SURNAME_DOB, normalised)

    def sender_ref_entry(self, sender_ref: str) -> tuple[str, bytes]:
        """An upstream system's own reference for a child, as ``sender|reference``."""
        return SENDER_REF, self.digest(SENDER_REF, sender_ref)

    def find(self, kind: str, digest: bytes) -> list[UUID]:
        return self.store.find(kind, digest)

    def forget(self, *child_ids: UUID) -> int:
        return self.store.remove_children(child_ids)


class InMemoryBlindIndexStore:
    """Blind index rows in a list, for unit tests."""

    def __init__(self) -> None:
        self._rows: list[tuple[UUID, str, bytes]] = []
        self._lock = threading.Lock()

    def add(self, child_id: UUID, entries: Iterable[tuple[str, bytes]]) -> None:
        with self._lock:
            for kind, digest in entries:
                if (child_id, kind, digest) not in self._rows:
                    self._rows.append((child_id, kind, digest))

    def find(self, kind: str, digest: bytes) -> list[UUID]:
        return [c for c, k, d in self._rows if k == kind and d == digest]

    def find_many(
        self, entries: Iterable[tuple[str, bytes]]
    ) -> dict[tuple[str, bytes], list[UUID]]:
        found: dict[tuple[str, bytes], list[UUID]] = {}
        for entry in set(entries):
            children = self.find(*entry)
            if children:
                found[entry] = children
        return found

    def add_many(self, rows: Iterable[tuple[UUID, str, bytes]]) -> None:
        for child_id, kind, digest in rows:
            self.add(child_id, [(kind, digest)])

    def digests_of(self, child_ids: Sequence[UUID], kind: str) -> dict[UUID, set[bytes]]:
        wanted = set(child_ids)
        found: dict[UUID, set[bytes]] = {}
        for child_id, row_kind, digest in self._rows:
            if child_id in wanted and row_kind == kind:
                found.setdefault(child_id, set()).add(digest)
        return found

    def remove_children(self, child_ids: Sequence[UUID]) -> int:
        gone = set(child_ids)
        with self._lock:
            before = len(self._rows)
            self._rows = [r for r in self._rows if r[0] not in gone]
            return before - len(self._rows)

    def count_for(self, child_id: UUID) -> int:
        return sum(1 for row in self._rows if row[0] == child_id)

    def remove_entries(self, child_id: UUID, kind: str) -> None:
        with self._lock:
            self._rows = [r for r in self._rows if not (r[0] == child_id and r[1] == kind)]
