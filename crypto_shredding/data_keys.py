"""Per-child data keys: create, unwrap (with a short-lived cache), destroy, rotate.

Unwrapped keys stay in memory for at most ``ttl`` seconds and at most
``maxsize`` at a time. Destroying a key evicts it from every cache in this
process at once (caches register themselves in a weak set), so a shredded
child cannot be read here afterwards even from a warm cache. Other processes
forget it within ``ttl`` seconds.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from uuid import UUID

from cachetools import TTLCache
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto_shredding.errors import UnknownDataKeyError
from crypto_shredding.kek import KekRing
from crypto_shredding.keystore import KeyStore, WrappedKey
from crypto_shredding.sealing import cipher, new_key
from domain.markers import Shredded

_every_instance: weakref.WeakSet[DataKeys] = weakref.WeakSet()
_registry_lock = threading.Lock()


def evict_everywhere(child_id: UUID) -> None:
    """Drop ``child_id``'s key from every cache of this process."""
    with _registry_lock:
        instances = list(_every_instance)
    for instance in instances:
        instance.evict(child_id)


class DataKeys:
    """The application's view of the key store: plain data keys or a Shredded marker."""

    def __init__(
        self, store: KeyStore, keks: KekRing, ttl: float = 60.0, maxsize: int = 10_000
    ) -> None:
        self.store = store
        self.keks = keks
        # Cached as ready AEAD objects: building one per event cost more than the AES itself.
        self._cache: TTLCache[UUID, AESGCM | Shredded] = TTLCache(maxsize=maxsize, ttl=ttl)
        self._lock = threading.Lock()
        with _registry_lock:
            _every_instance.add(self)

    def create(self, child_id: UUID, expires_on: date | None) -> None:
        self.create_many([(child_id, expires_on)])

    def create_many(self, children: Iterable[tuple[UUID, date | None]]) -> None:
        """Make and store keys now (for keys that no event transaction carries)."""
        fresh = self.prepare_many(children)
        # A concurrent creator may win for some child: keep cached only the keys we stored.
        created = self.store.add(fresh)
        self.forget(k.child_id for k in fresh if k.child_id not in created)

    def prepare_many(self, children: Iterable[tuple[UUID, date | None]]) -> list[WrappedKey]:
        """New keys, cached for sealing and wrapped for the caller to store.

        The caller stores them in the same transaction as the first events
        they seal, and calls :meth:`forget` if that transaction fails, so no
        key outlives a batch that was never written.
        """
        kek = self.keks.current
        fresh: list[WrappedKey] = []
        with self._lock:
            for child_id, expires_on in children:
                key = new_key()
                self._cache[child_id] = cipher(key)
                fresh.append(WrappedKey(child_id, kek.key_id, kek.wrap(key, child_id), expires_on))
        return fresh

    def forget(self, child_ids: Iterable[UUID]) -> None:
        """Drop keys from this cache (prepared keys whose transaction failed)."""
        with self._lock:
            for child_id in child_ids:
                self._cache.pop(child_id, None)

    def key_for(self, child_id: UUID) -> AESGCM | Shredded:
        """The child's data key as a ready AEAD object, or the Shredded marker."""
        with self._lock:
            cached = self._cache.get(child_id)
        if cached is not None:
            return cached
        return self.load([child_id])[child_id]

    def load(
        self, child_ids: Iterable[UUID], *, missing_ok: bool = False
    ) -> dict[UUID, AESGCM | Shredded]:
        """Unwrap many keys with one query each to the key and tombstone tables.

        With ``missing_ok``, ids that never had a key are left out instead of
        raising (a prefetch may name aggregates that are not children).
        """
        wanted = set(child_ids)
        result: dict[UUID, AESGCM | Shredded] = {}
        with self._lock:
            for child_id in list(wanted):
                cached = self._cache.get(child_id)
                if cached is not None:
                    result[child_id] = cached
                    wanted.discard(child_id)
        if not wanted:
            return result
        wrapped = self.store.get_many(wanted)
        missing = wanted - wrapped.keys()
        tombstones = self.store.tombstones(missing) if missing else {}
        for child_id in missing:
            tomb = tombstones.get(child_id)
            if tomb is None:
                if missing_ok:
                    continue
                msg = f"no data key was ever created for child {child_id}"
                raise UnknownDataKeyError(msg)
            result[child_id] = Shredded(child_id, tomb.destroyed_at, tomb.reason)
        for child_id, key in wrapped.items():
            result[child_id] = cipher(self.keks.get(key.kek_id).unwrap(key.wrapped, child_id))
        with self._lock:
            for child_id in wanted:
                if child_id in result:
                    self._cache[child_id] = result[child_id]
        return result

    def evict(self, child_id: UUID) -> None:
        with self._lock:
            self._cache.pop(child_id, None)

    def destroy(self, child_id: UUID, reason: str, at: datetime | None = None) -> bool:
        """Destroy the key for good; True if this call destroyed it."""
        return bool(self.destroy_many([child_id], reason, at))

    def destroy_many(
        self, child_ids: Sequence[UUID], reason: str, at: datetime | None = None
    ) -> set[UUID]:
        """Destroy many keys in one transaction; return those this call destroyed."""
        destroyed = self.store.destroy(child_ids, at or datetime.now(UTC), reason)
        for child_id in child_ids:
            evict_everywhere(child_id)
        return destroyed

    def unconfigured_keks(self) -> dict[str, int]:
        """KEKs that still wrap live keys but are not in the ring: those keys cannot be read."""
        return {kek: n for kek, n in self.store.count_by_kek().items() if kek not in self.keks}

    def rotate(self, batch: int = 500) -> int:
        """Re-wrap every live key under the current KEK; events are untouched."""
        current = self.keks.current
        count = 0
        for keys in self.store.scan(batch):
            stale = [k for k in keys if k.kek_id != current.key_id]
            rewrapped = [
                WrappedKey(
                    k.child_id,
                    current.key_id,
                    current.wrap(self.keks.get(k.kek_id).unwrap(k.wrapped, k.child_id), k.child_id),
                    k.expires_on,
                )
                for k in stale
            ]
            if rewrapped:
                self.store.rewrap(rewrapped)
                count += len(rewrapped)
        return count
