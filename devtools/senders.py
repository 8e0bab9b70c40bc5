"""Senders for the demo, the benchmarks and the tests: a key made and registered on first use.

Every synthetic school seals as itself (HPKE Auth mode) like a real one;
this makes its key pair the first time it sends and registers the public
key with the council's sender register, as `cme senders add` would.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from application import CMEApplication
from cme.settings import Settings
from domain.commands import RegisterSender


class AutoRegisteringSenders(dict[str, X25519PrivateKey]):
    """Private keys by sender id; a missing sender gets one, registered through ``register``."""

    def __init__(self, register: Callable[[str, str], None]) -> None:
        super().__init__()
        self.register = register

    def __missing__(self, sender: str) -> X25519PrivateKey:
        key = X25519PrivateKey.generate()
        self.register(sender, public_key_b64(key))
        self[sender] = key
        return key


def public_key_b64(key: X25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes_raw()).decode()


def registered_in(app: CMEApplication, actor: str = "system:dev-senders") -> AutoRegisteringSenders:
    """Senders whose keys are registered in ``app``'s sender register as they first send."""

    def register(sender: str, public_key: str) -> None:
        app.register_sender(RegisterSender(actor=actor, sender=sender, public_key=public_key))

    return AutoRegisteringSenders(register)


@contextmanager
def senders_of(settings: Settings) -> Iterator[AutoRegisteringSenders]:
    """Senders registered in the store ``settings`` name, through an application of its own."""
    from cme.bootstrap import build_application  # noqa: PLC0415 - the composition root

    app = build_application(settings)
    try:
        yield registered_in(app)
    finally:
        app.close()
