"""Builders shared by the test tiers (the same bootstrap parts, other adapters)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

import eventstore.popo
from cme.bootstrap import App
from crypto_shredding.blind_index import BlindIndex, InMemoryBlindIndexStore
from crypto_shredding.data_keys import DataKeys
from crypto_shredding.kek import KekRing, LocalKek
from crypto_shredding.keystore import InMemoryKeyStore, KeyStore
from crypto_shredding.mapper import cme_mapper
from crypto_shredding.sealing import new_key

# The day the embedded-store tests run on (their application's controllable clock).
TODAY = date(2026, 11, 30)


def kek(key_id: str = "kek-test-1") -> LocalKek:
    return LocalKek(key_id=key_id, secret=new_key())


def kek_env_value(*keks: LocalKek) -> str:
    return ",".join(f"{k.key_id}:{base64.b64encode(k.secret).decode()}" for k in keks)


def in_memory_app(
    *,
    keystore: KeyStore | None = None,
    ring: KekRing | None = None,
    today: Callable[[], date] = date.today,
    seal_personal: bool = True,
) -> App:
    """The application on the library's in-memory store and our in-memory adapters."""
    data_keys = DataKeys(keystore or InMemoryKeyStore(), ring or KekRing([kek()]))
    return App(
        {"PERSISTENCE_MODULE": eventstore.popo.FACTORY},
        data_keys=data_keys,
        blind_index=BlindIndex(new_key(), InMemoryBlindIndexStore()),
        mapper=lambda: cme_mapper(data_keys, seal_personal=seal_personal),
        today=today,
        preload_keys=seal_personal,
    )


def nurse_disclosure(child_id: UUID, actor: str = "cw:1") -> dict[str, Any]:
    """A disclosure request to school nursing, for the address: safeguarding, so it is allowed."""
    return {
        "actor": actor,
        "child_id": child_id,
        "recipient_agency": "school_nursing",
        "recipient_organisation": "Synthetic School Nursing",
        "purpose": "safeguarding",
        "lawful_basis": "safeguarding_children_act_1989_s47_dpa_2018_sch1_para18",
        "categories": ["address"],
        "necessity": "The nurse is due to visit and needs the current address",
        "requested_on": TODAY,
    }
