"""Pins the sealed-payload wire format with test vectors an upstream team can check against.

Upstream senders seal payloads with their own HPKE library, working from the
README alone. Round trips through the project's own code cannot catch a
format that is merely self-consistent (enc after the ciphertext, base64url,
a non-empty aad would all round-trip), so this module carries a small RFC 9180
implementation built only from primitives (X25519, HMAC-SHA256, AES-GCM),
checked against RFC 9180 Appendix A.1.1 and against `cryptography`'s HPKE in
mode_base, and against pyhpke (the project's HPKE) in mode_auth, which the
project uses: the sender's registered key takes part, so the seal proves who
sealed it.
With a fixed ephemeral key it produces `examples/upstream/sealing-vectors.json`
byte for byte; the tests prove the project opens those bytes and that the
mistakes senders make are refused. Regenerate the file with
``python -m tests.unit.test_sealing_vectors --write``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from consumers.contract import Envelope
from consumers.envelopes import seal_line
from consumers.intake.decode import Decoded, Rejected, decode, parse_envelope
from consumers.sealed_payload import (
    ALGORITHM,
    BASE_ALGORITHM,
    IntakeKeys,
    PayloadSealingError,
    parse_intake_keys,
    seal_payload,
)

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "examples" / "upstream" / "sealing-vectors.json"
README = ROOT / "README.md"

# --- An independent RFC 9180 implementation: mode_base and mode_auth, DHKEM(X25519) only ---

MODE_BASE = 0x00
MODE_AUTH = 0x02
KEM_X25519_HKDF_SHA256 = 0x0020
KDF_HKDF_SHA256 = 0x0001
AEAD_AES_128_GCM = 0x0001
AEAD_AES_256_GCM = 0x0002
N_SECRET = 32
N_NONCE = 12
KEM_SUITE_ID = b"KEM" + KEM_X25519_HKDF_SHA256.to_bytes(2, "big")


@dataclass(frozen=True)
class Suite:
    """A DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 suite with an AES-GCM AEAD of ``nk`` bytes."""

    aead_id: int
    nk: int

    @property
    def suite_id(self) -> bytes:
        ids = (KEM_X25519_HKDF_SHA256, KDF_HKDF_SHA256, self.aead_id)
        return b"HPKE" + b"".join(i.to_bytes(2, "big") for i in ids)


CME_SUITE = Suite(AEAD_AES_256_GCM, 32)
RFC_A1_SUITE = Suite(AEAD_AES_128_GCM, 16)


@dataclass(frozen=True)
class Sealed:
    """One single-shot seal, with the intermediate values a sender can compare against."""

    enc: bytes
    ciphertext: bytes
    shared_secret: bytes
    key: bytes
    base_nonce: bytes


def _hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def _hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _hkdf_extract(salt, b"HPKE-v1" + suite_id + label + ikm)


def labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled_info = length.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label + info
    return _hkdf_expand(prk, labeled_info, length)


def _raw(public_key: X25519PublicKey) -> bytes:
    return public_key.public_bytes_raw()


def _kem_shared_secret(dh: bytes, kem_context: bytes) -> bytes:
    eae_prk = labeled_extract(KEM_SUITE_ID, b"", b"eae_prk", dh)
    return labeled_expand(KEM_SUITE_ID, eae_prk, b"shared_secret", kem_context, N_SECRET)


def _key_schedule(
    suite: Suite, mode: int, shared_secret: bytes, info: bytes
) -> tuple[bytes, bytes]:
    sid = suite.suite_id
    psk_id_hash = labeled_extract(sid, b"", b"psk_id_hash", b"")
    info_hash = labeled_extract(sid, b"", b"info_hash", info)
    context = bytes([mode]) + psk_id_hash + info_hash
    secret = labeled_extract(sid, shared_secret, b"secret", b"")  # psk = ""
    key = labeled_expand(sid, secret, b"key", context, suite.nk)
    base_nonce = labeled_expand(sid, secret, b"base_nonce", context, N_NONCE)
    return key, base_nonce


def _nonce(base_nonce: bytes, seq: int) -> bytes:
    return bytes(a ^ b for a, b in zip(base_nonce, seq.to_bytes(N_NONCE, "big"), strict=True))


def seal_base(
    suite: Suite,
    pk_r: X25519PublicKey,
    sk_e: X25519PrivateKey,
    info: bytes,
    aad: bytes,
    plaintext: bytes,
    sk_s: X25519PrivateKey | None = None,
) -> Sealed:
    """SetupBaseS (or SetupAuthS, given the sender's ``sk_s``), then Seal at sequence 0."""
    enc = _raw(sk_e.public_key())
    dh, kem_context = sk_e.exchange(pk_r), enc + _raw(pk_r)
    if sk_s is not None:  # AuthEncap: the sender's static key joins the agreement
        dh += sk_s.exchange(pk_r)
        kem_context += _raw(sk_s.public_key())
    shared_secret = _kem_shared_secret(dh, kem_context)
    mode = MODE_BASE if sk_s is None else MODE_AUTH
    key, base_nonce = _key_schedule(suite, mode, shared_secret, info)
    ciphertext = AESGCM(key).encrypt(_nonce(base_nonce, 0), plaintext, aad)
    return Sealed(enc, ciphertext, shared_secret, key, base_nonce)


def open_base(
    suite: Suite,
    sk_r: X25519PrivateKey,
    enc: bytes,
    info: bytes,
    aad: bytes,
    ciphertext: bytes,
    pk_s: X25519PublicKey | None = None,
) -> bytes:
    """SetupBaseR (or SetupAuthR, given ``pk_s``), then Open; ``InvalidTag`` if it does not."""
    dh = sk_r.exchange(X25519PublicKey.from_public_bytes(enc))
    kem_context = enc + _raw(sk_r.public_key())
    if pk_s is not None:  # AuthDecap
        dh += sk_r.exchange(pk_s)
        kem_context += _raw(pk_s)
    shared_secret = _kem_shared_secret(dh, kem_context)
    mode = MODE_BASE if pk_s is None else MODE_AUTH
    key, base_nonce = _key_schedule(suite, mode, shared_secret, info)
    return AESGCM(key).decrypt(_nonce(base_nonce, 0), ciphertext, aad)


def open_ct(sk_r: X25519PrivateKey, ct_b64: str, info: bytes, pk_s: X25519PublicKey) -> bytes:
    """Opens a payload ``ct`` as the README defines it: base64(enc || ciphertext), aad empty."""
    raw = base64.b64decode(ct_b64, validate=True)
    return open_base(CME_SUITE, sk_r, raw[:32], info, b"", raw[32:], pk_s)


# --- The vectors: fixed, synthetic keys and the README's example line ---

KID = "intake-vectors-1"
SK_R = hashlib.sha256(b"cme sealing vectors: intake private key (test only)").digest()
SK_E = hashlib.sha256(b"cme sealing vectors: ephemeral private key (test only)").digest()
SK_S = hashlib.sha256(b"cme sealing vectors: sender private key (test only)").digest()
VALID_ON = date(2026, 11, 30)
"""A day on which the example's dates validate (it is the example's ``occurred_at``)."""

PLAIN_LINE: dict[str, Any] = {
    "message_id": "school-mis-140822-00000001-9faba827",
    "type": "removal_from_roll",
    "version": 1,
    "sender": "school-mis:140822",
    "occurred_at": "2026-11-30T09:00:00+00:00",
    "subject_ref": "ref-9419cf4d60597bdc",
    "payload": {
        "child": {
            "legal_forenames": "Joljous",
            "legal_surname": "Borhis",
            "date_of_birth": "2022-06-08",
            "sex": "male",
            "upn": "X919241549909",
            "address": {"line1": "174 Nespund Gardens", "town": "Watford", "postcode": "SG4 7UG"},
        },
        "school_urn": "140822",
        "removed_on": "2026-06-01",
        "deletion_ground": "moved_away",
        "whereabouts_known": False,
        "reg13": {"notes": "Family not contactable"},
    },
}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hpke_info(line: dict[str, Any]) -> bytes:
    """The README's info string, built from the line's own fields (not the project's code)."""
    fields = ("message_id", "type", "version", "sender", "subject_ref")
    return "|".join(["cme.upstream.v1", *(str(line[f]) for f in fields)]).encode("utf-8")


def plaintext_of(line: dict[str, Any]) -> bytes:
    return json.dumps(line["payload"], separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def envelope_bytes(line: dict[str, Any], kid: str, ct: str) -> bytes:
    fields = {k: v for k, v in line.items() if k != "payload"}
    envelope = {**fields, "payload": {"alg": ALGORITHM, "kid": kid, "ct": ct}}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def build_vectors() -> dict[str, Any]:
    sk_r = X25519PrivateKey.from_private_bytes(SK_R)
    sk_e = X25519PrivateKey.from_private_bytes(SK_E)
    sk_s = X25519PrivateKey.from_private_bytes(SK_S)
    info, plaintext = hpke_info(PLAIN_LINE), plaintext_of(PLAIN_LINE)
    sealed = seal_base(CME_SUITE, sk_r.public_key(), sk_e, info, b"", plaintext, sk_s)
    ct = _b64(sealed.enc + sealed.ciphertext)
    public_b64 = _b64(_raw(sk_r.public_key()))
    return {
        "description": (
            "Test vectors for sealing an upstream payload (README: 'Sealing a payload, byte by "
            "byte'). Synthetic data and test-only keys. Check a sealer two ways: open 'ct' with "
            "intake_key.private_key_b64 and sender_key.public_key_b64 (HPKE mode_auth), and "
            "reproduce 'ct' exactly by sealing 'plaintext' with sender_key.private_key_b64 and "
            "ephemeral.skE_b64 as the ephemeral key. Generated by "
            "tests/unit/test_sealing_vectors.py."
        ),
        "suite": {
            "mode": "mode_auth (0x02): the sender's registered X25519 key authenticates it",
            "kem_id": KEM_X25519_HKDF_SHA256,
            "kdf_id": KDF_HKDF_SHA256,
            "aead_id": CME_SUITE.aead_id,
            "alg": ALGORITHM,
        },
        "intake_key": {
            "kid": KID,
            "private_key_b64": _b64(SK_R),
            "public_key_b64": public_b64,
            "public_key_line": f"{KID}:{public_b64}",
        },
        "sender_key": {
            "sender": PLAIN_LINE["sender"],
            "private_key_b64": _b64(SK_S),
            "public_key_b64": _b64(_raw(sk_s.public_key())),
        },
        "ephemeral": {"skE_b64": _b64(SK_E), "enc_b64": _b64(sealed.enc)},
        "plain_line": PLAIN_LINE,
        "info": info.decode("utf-8"),
        "aad": "",
        "plaintext": plaintext.decode("utf-8"),
        "intermediate_hex": {
            "shared_secret": sealed.shared_secret.hex(),
            "key": sealed.key.hex(),
            "base_nonce": sealed.base_nonce.hex(),
            "enc": sealed.enc.hex(),
            "aead_ciphertext_with_tag": sealed.ciphertext.hex(),
        },
        "ct": ct,
        "kafka_key": PLAIN_LINE["subject_ref"],
        "sealed_envelope": envelope_bytes(PLAIN_LINE, KID, ct).decode("utf-8"),
        "valid_on": VALID_ON.isoformat(),
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=2, ensure_ascii=False) + "\n"


# --- The independent implementation is itself right ---


def test_independent_hpke_reproduces_rfc9180_a_1_1() -> None:
    """RFC 9180 A.1.1, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, mode_base, seq 0.

    The RFC prints no X25519 + AES-256-GCM vector; this pins the KEM, the
    labels and the key schedule, and the tests below pin AES-256-GCM against
    `cryptography`'s HPKE in both directions.
    """
    sk_e = X25519PrivateKey.from_private_bytes(
        bytes.fromhex("52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736")
    )
    sk_r = X25519PrivateKey.from_private_bytes(
        bytes.fromhex("4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8")
    )
    assert _raw(sk_r.public_key()).hex() == (
        "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d"
    )
    info = bytes.fromhex("4f6465206f6e2061204772656369616e2055726e")
    aad, plaintext = b"Count-0", b"Beauty is truth, truth beauty"
    sealed = seal_base(RFC_A1_SUITE, sk_r.public_key(), sk_e, info, aad, plaintext)
    assert sealed.enc.hex() == "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431"
    assert sealed.shared_secret.hex() == (
        "fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc"
    )
    assert sealed.key.hex() == "4531685d41d65f03dc48f6b8302c05b0"
    assert sealed.base_nonce.hex() == "56d890e5accaaf011cff4b7d"
    assert sealed.ciphertext.hex() == (
        "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a"
    )
    assert open_base(RFC_A1_SUITE, sk_r, sealed.enc, info, aad, sealed.ciphertext) == plaintext


def test_independent_hpke_and_pyhpke_open_each_others_auth_mode_output() -> None:
    """mode_auth, both ways, against the library the project seals and opens with."""
    sk_r, sk_e, sk_s = (X25519PrivateKey.generate() for _ in range(3))
    info, plaintext = b"some info", b'{"some": "payload"}'
    ours = seal_base(CME_SUITE, sk_r.public_key(), sk_e, info, b"", plaintext, sk_s)
    keys = parse_intake_keys(f"k {_b64(sk_r.private_bytes_raw())}", "test")
    assert keys.open("k", _b64(ours.enc + ours.ciphertext), info, [sk_s.public_key()]) == plaintext
    theirs = base64.b64decode(seal_payload(plaintext, sk_r.public_key(), info, sk_s))
    opened = open_base(CME_SUITE, sk_r, theirs[:32], info, b"", theirs[32:], sk_s.public_key())
    assert opened == plaintext
    with pytest.raises(InvalidTag):  # base mode does not open what auth mode sealed
        open_base(CME_SUITE, sk_r, theirs[:32], info, b"", theirs[32:])


def test_independent_hpke_and_cryptography_open_each_others_output() -> None:
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    sk_r, sk_e = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    info, plaintext = b"some info", b'{"some": "payload"}'
    ours = seal_base(CME_SUITE, sk_r.public_key(), sk_e, info, b"", plaintext)
    assert suite.decrypt(ours.enc + ours.ciphertext, sk_r, info=info) == plaintext
    theirs = suite.encrypt(plaintext, sk_r.public_key(), info=info)
    assert open_base(CME_SUITE, sk_r, theirs[:32], info, b"", theirs[32:]) == plaintext


# --- The vectors file, and the project against it ---


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def sender(vectors: dict[str, Any]) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(
        base64.b64decode(vectors["sender_key"]["private_key_b64"])
    )


def _registered(sender: X25519PrivateKey) -> Callable[[str], list[X25519PublicKey]]:
    """A register holding the vectors' sender, as `cme senders add` would."""
    return lambda name: [sender.public_key()] if name == PLAIN_LINE["sender"] else []


@pytest.fixture(scope="module")
def intake_keys(vectors: dict[str, Any]) -> IntakeKeys:
    key = vectors["intake_key"]
    return parse_intake_keys(f"{key['kid']} {key['private_key_b64']}", "vectors")


def _sealed_envelope(vectors: dict[str, Any]) -> Envelope:
    envelope = parse_envelope(vectors["sealed_envelope"].encode("utf-8"))
    assert isinstance(envelope, Envelope), envelope
    return envelope


def test_vectors_file_is_what_the_generator_writes() -> None:
    assert VECTORS.read_text(encoding="utf-8") == render(build_vectors()), (
        "run: python -m tests.unit.test_sealing_vectors --write"
    )


def test_vector_line_is_the_readme_example() -> None:
    block = re.search(r"before sealing:\n\n```json\n(.*?)```", README.read_text(), re.S)
    assert block is not None, "README lost its 'before sealing:' example block"
    assert json.loads(block.group(1)) == PLAIN_LINE


def test_project_info_is_the_vector_info(vectors: dict[str, Any]) -> None:
    assert _sealed_envelope(vectors).hpke_info() == vectors["info"].encode("utf-8")


def test_project_opens_the_vector_ct_to_the_vector_plaintext(
    vectors: dict[str, Any], intake_keys: IntakeKeys, sender: X25519PrivateKey
) -> None:
    envelope = _sealed_envelope(vectors)
    info, ct = envelope.hpke_info(), envelope.payload.ct
    opened = intake_keys.open(envelope.payload.kid, ct, info, [sender.public_key()])
    assert opened == vectors["plaintext"].encode("utf-8")
    assert json.loads(opened) == vectors["plain_line"]["payload"]


def test_skE_reproduces_the_vector_ct_byte_for_byte(
    vectors: dict[str, Any], sender: X25519PrivateKey
) -> None:
    sk_r = X25519PrivateKey.from_private_bytes(
        base64.b64decode(vectors["intake_key"]["private_key_b64"])
    )
    pk_r = X25519PublicKey.from_public_bytes(
        base64.b64decode(vectors["intake_key"]["public_key_b64"])
    )
    assert _raw(sk_r.public_key()) == _raw(pk_r)
    sk_e = X25519PrivateKey.from_private_bytes(base64.b64decode(vectors["ephemeral"]["skE_b64"]))
    sealed = seal_base(
        CME_SUITE,
        pk_r,
        sk_e,
        vectors["info"].encode("utf-8"),
        vectors["aad"].encode("utf-8"),
        vectors["plaintext"].encode("utf-8"),
        sender,
    )
    assert _b64(_raw(sender.public_key())) == vectors["sender_key"]["public_key_b64"]
    assert _b64(sealed.enc) == vectors["ephemeral"]["enc_b64"]
    assert _b64(sealed.enc + sealed.ciphertext) == vectors["ct"]
    assert json.loads(vectors["sealed_envelope"])["payload"] == {
        "alg": "HPKE-AUTH-X25519-SHA256-AES256GCM",
        "kid": vectors["intake_key"]["kid"],
        "ct": vectors["ct"],
    }


def test_what_the_project_seals_opens_with_the_independent_implementation(
    vectors: dict[str, Any], intake_keys: IntakeKeys, sender: X25519PrivateKey
) -> None:
    sk_r = intake_keys.keys[intake_keys.current]
    line = vectors["plain_line"]
    senders = {line["sender"]: sender}
    envelope, raw = seal_line(
        line, intake_keys.current, intake_keys.public_key(), senders, VALID_ON
    )
    published = json.loads(raw)["payload"]
    assert published == envelope.payload.model_dump()
    assert published["alg"] == ALGORITHM
    assert published["kid"] == vectors["intake_key"]["kid"]
    opened = open_ct(sk_r, published["ct"], hpke_info(line), sender.public_key())
    assert json.loads(opened) == line["payload"]

    info = hpke_info(line)
    direct = seal_payload(b'{"any": "bytes"}', intake_keys.public_key(), info, sender)
    assert open_ct(sk_r, direct, info, sender.public_key()) == b'{"any": "bytes"}'


def test_decode_accepts_the_vector_envelope(
    vectors: dict[str, Any], intake_keys: IntakeKeys, sender: X25519PrivateKey
) -> None:
    result = decode(
        vectors["sealed_envelope"].encode("utf-8"),
        vectors["plain_line"]["subject_ref"].encode("utf-8"),  # the Kafka record key
        intake_keys,
        _registered(sender),
        date.fromisoformat(vectors["valid_on"]),
    )
    assert isinstance(result, Decoded), result
    assert result.envelope.message_id == vectors["plain_line"]["message_id"]
    assert (
        result.payload.model_dump(mode="json", exclude_unset=True)
        == (vectors["plain_line"]["payload"])
    )


# --- The mistakes an independent sender makes are refused ---


def _ct_base64url(sealed: Sealed) -> str:
    return base64.urlsafe_b64encode(sealed.enc + sealed.ciphertext).decode()


def _ct_enc_after(sealed: Sealed) -> str:
    return _b64(sealed.ciphertext + sealed.enc)


def _ct_unpadded(sealed: Sealed) -> str:
    return _b64(sealed.enc + sealed.ciphertext).rstrip("=")


@dataclass(frozen=True)
class Mistake:
    """One way a sender gets the format wrong: how ``ct`` is written, and which info and aad."""

    write_ct: Callable[[Sealed], str]
    reason: str
    empty_info: bool = False
    aad_is_info: bool = False


def _ct_right(sealed: Sealed) -> str:
    return _b64(sealed.enc + sealed.ciphertext)


UNREADABLE, NOT_AUTHENTICATED = "payload_unreadable", "sender_not_authenticated"
MISTAKES = {
    # Not base64 as README says: nothing to try a key on.
    "base64url": Mistake(_ct_base64url, UNREADABLE),
    "base64_without_padding": Mistake(_ct_unpadded, UNREADABLE),
    # Well-formed, but no registered key opens it: cryptographically the same as a
    # seal by someone else, so it is refused as not authenticated.
    "enc_after_ciphertext": Mistake(_ct_enc_after, NOT_AUTHENTICATED),
    "info_as_aad": Mistake(_ct_right, NOT_AUTHENTICATED, aad_is_info=True),
    "empty_info": Mistake(_ct_right, NOT_AUTHENTICATED, empty_info=True),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_sender_mistakes_are_quarantined_with_a_reason(
    mistake: str, vectors: dict[str, Any], intake_keys: IntakeKeys, sender: X25519PrivateKey
) -> None:
    how = MISTAKES[mistake]
    line = vectors["plain_line"]
    info = b"" if how.empty_info else hpke_info(line)
    aad = hpke_info(line) if how.aad_is_info else b""
    sk_e = X25519PrivateKey.from_private_bytes(base64.b64decode(vectors["ephemeral"]["skE_b64"]))
    sealed = seal_base(
        CME_SUITE, intake_keys.public_key(), sk_e, info, aad, vectors["plaintext"].encode(), sender
    )
    ct = how.write_ct(sealed)
    assert ct != vectors["ct"], "the mistake must change the ct, or this test proves nothing"
    with pytest.raises(PayloadSealingError):
        intake_keys.open(intake_keys.current, ct, hpke_info(line), [sender.public_key()])
    result = decode(
        envelope_bytes(line, intake_keys.current, ct),
        line["subject_ref"].encode(),
        intake_keys,
        _registered(sender),
        VALID_ON,
    )
    assert isinstance(result, Rejected)
    assert result.reason.code == how.reason


def _decoded(raw: bytes, intake_keys: IntakeKeys, sender: X25519PrivateKey) -> Decoded | Rejected:
    key = PLAIN_LINE["subject_ref"].encode()
    return decode(raw, key, intake_keys, _registered(sender), VALID_ON)


def test_a_base_mode_seal_proves_no_sender_and_is_refused(
    vectors: dict[str, Any], intake_keys: IntakeKeys, sender: X25519PrivateKey
) -> None:
    """What every sender did before Auth mode: it opens, but anyone could have sealed it."""
    sk_e = X25519PrivateKey.from_private_bytes(base64.b64decode(vectors["ephemeral"]["skE_b64"]))
    info = hpke_info(PLAIN_LINE)
    sealed = seal_base(
        CME_SUITE, intake_keys.public_key(), sk_e, info, b"", vectors["plaintext"].encode()
    )
    envelope = json.loads(envelope_bytes(PLAIN_LINE, intake_keys.current, _ct_right(sealed)))
    envelope["payload"]["alg"] = BASE_ALGORITHM
    result = _decoded(json.dumps(envelope).encode(), intake_keys, sender)
    assert isinstance(result, Rejected)
    assert (result.reason.code, result.reason.field) == (NOT_AUTHENTICATED, "payload.alg")


def test_another_schools_key_cannot_seal_as_this_sender(
    vectors: dict[str, Any], intake_keys: IntakeKeys, sender: X25519PrivateKey
) -> None:
    """School B holds the intake public key and its own registered key, and claims to be A."""
    other_school = X25519PrivateKey.generate()
    forged = seal_payload(
        vectors["plaintext"].encode(), intake_keys.public_key(), hpke_info(PLAIN_LINE), other_school
    )
    raw = envelope_bytes(PLAIN_LINE, intake_keys.current, forged)
    result = _decoded(raw, intake_keys, sender)
    assert isinstance(result, Rejected)
    assert (result.reason.code, result.reason.field) == (NOT_AUTHENTICATED, "payload")
    assert isinstance(_decoded(vectors["sealed_envelope"].encode(), intake_keys, sender), Decoded)


def test_an_unregistered_sender_is_refused_before_any_key_is_tried(
    vectors: dict[str, Any], intake_keys: IntakeKeys
) -> None:
    nobody_registered = X25519PrivateKey.generate()  # _registered() knows only the vectors' key
    line = {**PLAIN_LINE, "sender": "school-mis:999999"}
    ct = seal_payload(
        vectors["plaintext"].encode(), intake_keys.public_key(), hpke_info(line), nobody_registered
    )
    result = _decoded(envelope_bytes(line, intake_keys.current, ct), intake_keys, nobody_registered)
    assert isinstance(result, Rejected)
    assert (result.reason.code, result.reason.field) == (NOT_AUTHENTICATED, "sender")


def test_vector_ct_exercises_the_base64url_and_padding_cases(vectors: dict[str, Any]) -> None:
    """The base64url and padding cases prove something only if the ct has '+' or '/', and '='."""
    assert set(vectors["ct"]) & {"+", "/"}
    assert vectors["ct"].endswith("=")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.unit.test_sealing_vectors --write")
    VECTORS.write_text(render(build_vectors()), encoding="utf-8")
    print(f"wrote {VECTORS.relative_to(ROOT)}")
