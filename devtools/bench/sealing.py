"""What sender authentication costs per message: opening in HPKE Auth mode vs base mode.

Auth mode adds a second X25519 agreement and runs through pyhpke rather
than cryptography's one-call HPKE; this measures both on the same payloads
in the same run, so the ratio says what the authentication costs intake.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from consumers.sealed_payload import parse_intake_keys, seal_payload
from devtools.bench.report import Figure, Stopwatch, publish
from devtools.synthetic import SyntheticCounty, SyntheticTraffic


def run(messages: int, seed: int) -> None:
    intake, sender = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    keys = parse_intake_keys(f"k {base64.b64encode(intake.private_bytes_raw()).decode()}", "bench")
    base = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    traffic = SyntheticTraffic(SyntheticCounty(seed=seed))
    payloads = [
        (line["message_id"].encode(), str(line["payload"]).encode())
        for line in traffic.mixed(messages)
    ]
    watch = Stopwatch()
    base_sealed = [base.encrypt(p, intake.public_key(), info=i) for i, p in payloads]
    base_seal = watch.seconds()
    watch = Stopwatch()
    auth_sealed = [seal_payload(p, intake.public_key(), i, sender) for i, p in payloads]
    auth_seal = watch.seconds()
    watch = Stopwatch()
    for (info, _), ct in zip(payloads, base_sealed, strict=True):
        base.decrypt(ct, intake, info=info)
    base_open = watch.seconds()
    registered = [sender.public_key()]
    watch = Stopwatch()
    for (info, _), sealed in zip(payloads, auth_sealed, strict=True):
        keys.open("k", sealed, info, registered)
    auth_open = watch.seconds()
    publish(
        "sealing",
        {"messages": messages, "seed": seed},
        [
            Figure(
                "open, Auth mode (intake)",
                messages / auth_open,
                "msg/s",
                "open, base mode (cryptography)",
                messages / base_open,
            ),
            Figure(
                "seal, Auth mode (senders)",
                messages / auth_seal,
                "msg/s",
                "seal, base mode (cryptography)",
                messages / base_seal,
            ),
        ],
    )
