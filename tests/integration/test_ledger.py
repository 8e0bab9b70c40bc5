"""The disclosure ledger on the real PostgreSQL: chained, signed, append-only, verifiable."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from cme.audit import verify_ledger
from cme.bootstrap import App, build_application
from cme.db.roles import Role, role_url
from cme.secrets import load_ledger_signer
from cme.settings import PROJECT_ROOT
from consumers.ledger import LedgerWriter
from devtools.synthetic import SyntheticCounty
from domain.commands import (
    ChangeAddress,
    DecideRequest,
    MakeDisclosure,
    PlaceLegalHold,
    ReceiveRightsRequest,
    RecordInformationReceived,
    RegisterChild,
    VerifyIdentity,
)
from domain.values import ShredReason
from tests.conftest import Services
from tests.integration.workers import destroy_key
from tests.seeds import seed


@dataclass
class Ledger:
    app: App
    writer: LedgerWriter
    children: list[UUID]
    surnames: list[str]


def share(app: App, child_id: UUID, basis: str) -> Any:
    return app.make_disclosure(
        MakeDisclosure.of(
            {
                "actor": "cw:alice",
                "child_id": child_id,
                "recipient_agency": "police",
                "recipient_organisation": "Synthetic Constabulary",
                "purpose": "locate_child",
                "lawful_basis": basis,
                "categories": ["names", "address"],
                "requested_by": "cw:alice",
                "approved_by": "mgr:bob",
                "disclosed_on": date.today(),
                "summary": "Last known address",
            }
        )
    )


@pytest.fixture(scope="module")
def ledger(services: Services) -> Iterator[Ledger]:
    app = build_application(services.settings)
    county = SyntheticCounty(seed=seed("ledger"))
    commands = [county.register_child() for _ in range(4)]
    children = [app.register_child(RegisterChild.of(c)) for c in commands]
    a, b, c, d = children
    share(app, a, "uk_gdpr_6_1_e_public_task_s436a_education_act_1996")
    app.record_information_received(
        RecordInformationReceived.of(
            {
                "actor": "cw:alice",
                "child_id": a,
                "source_agency": "housing",
                "source_organisation": "Synthetic Homes",
                "categories": ["address"],
                "received_on": date.today(),
                "content": "New tenancy",
            }
        )
    )
    request = app.receive_rights_request(
        ReceiveRightsRequest.of(
            {
                "actor": "dpo:1",
                "child_id": b,
                "request_type": "restriction",
                "received_on": date.today(),
                "requester_name": "Synthetic Parent",
            }
        )
    )
    share(app, b, "uk_gdpr_6_1_e_public_task_s436a_education_act_1996")  # refused: restricted
    app.verify_identity(
        VerifyIdentity.of({"actor": "dpo:1", "request_id": request, "verified_on": date.today()})
    )
    app.decide_request(
        DecideRequest.of(
            {
                "actor": "dpo:1",
                "request_id": request,
                "decision": "fulfilled",
                "decided_on": date.today(),
            }
        )
    )
    app.place_legal_hold(
        PlaceLegalHold.of(
            {
                "actor": "legal:1",
                "child_id": c,
                "hold_id": uuid4(),
                "reason": "Inquiry order",
                "authority": "Synthetic Inquiry 2026/1",
            }
        )
    )
    destroy_key(services.settings, d, ShredReason.RETENTION_REACHED.value)
    app.record_personal_data_shredded(d, ShredReason.RETENTION_REACHED, actor="job:shred")
    pool = ConnectionPool(
        role_url(services.settings, Role.LEDGER), min_size=1, max_size=2, open=True
    )
    writer = LedgerWriter(pool, load_ledger_signer(services.settings), checkpoint_every=3)
    writer.catch_up()
    writer.checkpoint()
    yield Ledger(app, writer, children, [cmd["details"]["legal_surname"] for cmd in commands])
    pool.close()
    app.close()


def entries(services: Services, children: list[UUID]) -> list[dict[str, Any]]:
    import json

    with psycopg.connect(role_url(services.settings, Role.AUDITOR)) as conn:
        rows = conn.execute("SELECT entry FROM ledger.entries ORDER BY seq").fetchall()
    found = [json.loads(bytes(r[0])) for r in rows]
    ours = {str(c) for c in children}
    return [e for e in found if e["child_id"] in ours]


def test_every_sharing_and_right_is_in_the_ledger_without_personal_values(
    ledger: Ledger, services: Services
) -> None:
    kinds = [e["kind"] for e in entries(services, ledger.children)]
    for kind in (
        "disclosure_made",
        "information_received",
        "rights_request_received",
        "processing_restricted",
        "disclosure_refused",
        "rights_request_decided",
        "legal_hold_placed",
        "personal_data_shredded",
    ):
        assert kind in kinds, kind
    made = next(e for e in entries(services, ledger.children) if e["kind"] == "disclosure_made")
    assert made["lawful_basis"] == "uk_gdpr_6_1_e_public_task_s436a_education_act_1996"
    assert made["categories"] == ["address", "names"]
    assert made["approved_by"] == "mgr:bob"
    with psycopg.connect(services.database_url) as conn:
        raw = b"".join(bytes(r[0]) for r in conn.execute("SELECT entry FROM ledger.entries"))
    for surname in ledger.surnames:
        assert surname.encode() not in raw
    assert b"Last known address" not in raw and b"Synthetic Parent" not in raw


def test_verify_says_ok(ledger: Ledger, services: Services) -> None:
    result = verify_ledger(
        role_url(services.settings, Role.AUDITOR), ledger.writer.signer.verifier()
    )
    assert result.ok, result.problems
    assert result.entries >= 8 and result.checkpoints >= 1
    cli = subprocess.run(
        [sys.executable, "-m", "cme.cli", "audit", "verify"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert cli.stdout.startswith("OK: "), cli.stdout  # the verdict first: no progress line


def _readme_python(first_line: str) -> str:
    """A Python block of README, found by its first line, as a reader would copy it."""
    text = (PROJECT_ROOT / "README.md").read_text()
    start = text.index("```python\n" + first_line) + len("```python\n")
    return text[start : text.index("```", start)]


def test_readmes_outside_verifier_checks_the_ledger_and_a_proof_of_one_entry(
    ledger: Ledger, services: Services, tmp_path: Path
) -> None:
    """README's two snippets for an outside verifier, run as written, placeholders filled."""
    key = ledger.writer.signer.public_key_b64()
    auditor = role_url(services.settings, Role.AUDITOR)
    whole = _readme_python("import hashlib, psycopg")
    whole = whole.replace("<base64 from cme audit public-key>", key).replace(
        "<auditor URL>", auditor
    )
    ran = subprocess.run(
        [sys.executable, "-c", whole], capture_output=True, text=True, check=False, timeout=300
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "ledger verified"

    ledger.writer.checkpoint()
    with psycopg.connect(auditor) as conn:
        row = conn.execute(
            "SELECT seq FROM ledger.entries "
            "WHERE convert_from(entry, 'UTF8')::jsonb ->> 'kind' = 'disclosure_made' "
            "ORDER BY seq LIMIT 1"
        ).fetchone()
    assert row is not None
    proof = tmp_path / "proof.json"
    proved = subprocess.run(
        [sys.executable, "-m", "cme.cli", "audit", "prove", str(row[0]), "--out", str(proof)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proved.returncode == 0, proved.stdout + proved.stderr
    check = _readme_python("import base64, hashlib, json").replace(
        "<base64 from cme audit public-key>", key
    )
    check = check.replace("<proof file>", str(proof))
    checked = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=False, timeout=60
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == f"entry {row[0]} is in the signed ledger: disclosure_made"
    genuine = json.loads(proof.read_text())
    forgeries = [
        {**genuine, "entry": genuine["entry"].replace('"police"', '"probation"')},
        {**genuine, "leaf_index": genuine["leaf_index"] + 2 ** (len(genuine["audit_path"]) + 1)},
        {**genuine, "seq": genuine["seq"] + 1},
        {**genuine, "leaf_index": float(genuine["leaf_index"])},
    ]
    for forged in forgeries:
        assert json.dumps(forged) != json.dumps(genuine)
        proof.write_text(json.dumps(forged))
        refused = subprocess.run(
            [sys.executable, "-c", check], capture_output=True, text=True, check=False, timeout=60
        )
        assert refused.returncode != 0 and "AssertionError" in refused.stderr, forged


def test_not_even_the_admin_truncates_the_ledger(ledger: Ledger, services: Services) -> None:
    with psycopg.connect(services.database_url) as conn:
        for table in ("entries", "checkpoints"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(f"TRUNCATE ledger.{table}")
            conn.rollback()


@pytest.mark.parametrize("role", [Role.LEDGER, Role.AUDITOR])
def test_nobody_updates_or_deletes_entries(ledger: Ledger, services: Services, role: Role) -> None:
    with psycopg.connect(role_url(services.settings, role)) as conn:
        for statement in (
            "UPDATE ledger.entries SET prev_hash = prev_hash",
            "DELETE FROM ledger.entries",
            "DELETE FROM ledger.checkpoints",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()


def test_auditor_cannot_insert_or_read_keys(ledger: Ledger, services: Services) -> None:
    with psycopg.connect(role_url(services.settings, Role.AUDITOR)) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO ledger.position VALUES ('x', 1)")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM keystore.data_keys")


def _behind_the_triggers(services: Services, *statements: tuple[str, tuple[Any, ...]]) -> None:
    with psycopg.connect(services.database_url) as conn:
        conn.execute("SET session_replication_role = replica")  # superuser: triggers off
        for sql, params in statements:
            conn.execute(sql.encode(), params)
        conn.commit()


def test_tampering_with_any_field_is_detected_and_located(
    ledger: Ledger, services: Services
) -> None:
    with psycopg.connect(services.database_url) as conn:
        seq, entry = conn.execute(
            "SELECT seq, entry FROM ledger.entries ORDER BY seq DESC OFFSET 2 LIMIT 1"
        ).fetchone()  # type: ignore[misc]
    original = bytes(entry)
    forged = original.replace(b"police", b"polite") if b"police" in original else original + b" "
    _behind_the_triggers(
        services, ("UPDATE ledger.entries SET entry = %s WHERE seq = %s", (forged, seq))
    )
    try:
        result = verify_ledger(
            role_url(services.settings, Role.AUDITOR), ledger.writer.signer.verifier()
        )
        assert not result.ok
        assert (
            result.problems[0]
            == f"entry {seq}: content does not match its hash (altered after writing)"
        )
    finally:
        _behind_the_triggers(
            services, ("UPDATE ledger.entries SET entry = %s WHERE seq = %s", (original, seq))
        )
    assert verify_ledger(
        role_url(services.settings, Role.AUDITOR), ledger.writer.signer.verifier()
    ).ok


def test_deleting_the_last_rows_after_a_checkpoint_is_detected(
    ledger: Ledger, services: Services
) -> None:
    with psycopg.connect(services.database_url) as conn:
        last = conn.execute("SELECT max(seq) FROM ledger.checkpoints").fetchone()[0]  # type: ignore[index]
        removed = conn.execute(
            "SELECT seq, notification_id, entry, prev_hash, entry_hash, recorded_at "
            "FROM ledger.entries WHERE seq > %s - 2 ORDER BY seq",
            (last,),
        ).fetchall()
    _behind_the_triggers(services, ("DELETE FROM ledger.entries WHERE seq > %s - 2", (last,)))
    try:
        result = verify_ledger(
            role_url(services.settings, Role.AUDITOR), ledger.writer.signer.verifier()
        )
        assert any(f"checkpoint at entry {last}: that entry is gone" in p for p in result.problems)
    finally:
        _behind_the_triggers(
            services,
            *[
                ("INSERT INTO ledger.entries VALUES (%s, %s, %s, %s, %s, %s)", tuple(row))
                for row in removed
            ],
        )
    assert verify_ledger(
        role_url(services.settings, Role.AUDITOR), ledger.writer.signer.verifier()
    ).ok


def test_a_rebuild_produces_a_byte_identical_chain(ledger: Ledger, services: Services) -> None:
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS ledger_rebuild CASCADE")
        conn.execute("CREATE SCHEMA ledger_rebuild AUTHORIZATION cme_ledger")
        for table in ("entries", "checkpoints", "position", "parked"):
            conn.execute(f"CREATE TABLE ledger_rebuild.{table} (LIKE ledger.{table} INCLUDING ALL)")
            conn.execute(f"ALTER TABLE ledger_rebuild.{table} OWNER TO cme_ledger")
    pool = ConnectionPool(
        role_url(services.settings, Role.LEDGER), min_size=1, max_size=1, open=True
    )
    try:
        LedgerWriter(pool, ledger.writer.signer, schema="ledger_rebuild").catch_up()
    finally:
        pool.close()
    ledger.writer.catch_up()
    with psycopg.connect(services.database_url) as conn:
        original = conn.execute(
            "SELECT seq, notification_id, entry, prev_hash, entry_hash "
            "FROM ledger.entries ORDER BY seq"
        ).fetchall()
        rebuilt = conn.execute(
            "SELECT seq, notification_id, entry, prev_hash, entry_hash "
            "FROM ledger_rebuild.entries ORDER BY seq"
        ).fetchall()
        conn.execute("DROP SCHEMA ledger_rebuild CASCADE")
        conn.commit()
    assert rebuilt == original


def test_replay_as_of_matches_the_state_observed_then(ledger: Ledger, services: Services) -> None:
    from datetime import UTC, datetime

    from application.audit import replay

    child_id = ledger.children[0]
    # Observe the child, then change it.
    observed = ledger.app.get_child(child_id).current_details().model_dump()
    instant = datetime.now(UTC)
    new_address = {"line1": "77 Replay Road", "town": "Ware", "postcode": "SG12 9ZZ"}
    ledger.app.change_address(
        ChangeAddress.of(
            {
                "actor": "cw:1",
                "child_id": child_id,
                "address": new_address,
                "effective_from": date.today(),
                "source": "housing",
            }
        )
    )
    then = replay(ledger.app, child_id, instant, actor="auditor:1", purpose="replay test")
    assert then.current_details().model_dump() == observed
    now = ledger.app.get_child(child_id).current_details()
    assert now.address is not None and now.address.line1 == "77 Replay Road"


def test_history_export_and_report(ledger: Ledger, services: Services, tmp_path: Any) -> None:
    import json as jsonlib

    from application.audit import history
    from cme.audit_tools import export, report

    rows = history(ledger.app, ledger.children[0], actor="auditor:1", purpose="audit sample")
    kinds = [r["what"] for r in rows]
    assert kinds[0] == "Child.Registered" and "Disclosure.Made" in kinds
    assert rows[0]["personal_data"]["legal_surname"] == ledger.surnames[0]
    # The read itself is recorded for the ledger.
    assert ledger.app.reads_of(ledger.children[0])[-1].purpose == "audit sample"
    shredded_rows = history(
        ledger.app, ledger.children[3], actor="auditor:1", purpose="audit sample"
    )
    assert str(shredded_rows[0]["personal_data"]).startswith("[shredded on ")

    out = tmp_path / "ledger.jsonl"
    count = export(role_url(services.settings, Role.AUDITOR), None, None, out)
    lines = [jsonlib.loads(line) for line in out.read_text().splitlines()]
    assert sum(1 for x in lines if x["type"] == "entry") == count > 0
    assert any(x["type"] == "checkpoint" for x in lines)

    summary = report(role_url(services.settings, Role.AUDITOR), ledger.app)
    assert summary["disclosures_by_agency"].get("police", 0) >= 1
    assert summary["refusals_by_reason"].get("processing_restricted", 0) >= 1


def test_the_access_package_lists_every_disclosure_the_ledger_holds(
    ledger: Ledger, services: Services
) -> None:
    import json as jsonlib

    from application.subject_access import access_package

    child_id = ledger.children[0]
    share(ledger.app, child_id, "safeguarding_children_act_1989_s47_dpa_2018_sch1_para18")
    ledger.writer.catch_up()
    with psycopg.connect(role_url(services.settings, Role.AUDITOR)) as conn:
        entries = [
            jsonlib.loads(bytes(r[0])) for r in conn.execute("SELECT entry FROM ledger.entries")
        ]
    made = sorted(
        (e["counterparty_agency"], e["lawful_basis"], e["on"])
        for e in entries
        if e["kind"] == "disclosure_made" and e["child_id"] == str(child_id)
    )
    assert len(made) == 2
    package = access_package(ledger.app, child_id, actor="dpo:1")
    listed = sorted(
        (r["recipient_agency"], r["lawful_basis"], r["disclosed_on"]) for r in package["recipients"]
    )
    assert listed == made


def test_an_event_the_writer_cannot_chain_is_parked_and_a_fixed_writer_appends_it(
    services: Services, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:

    ledger.writer.catch_up()
    before = verify_ledger(
        role_url(services.settings, Role.AUDITOR), load_ledger_signer(services.settings).verifier()
    )
    # A bug in building one kind of entry: disclosures made cannot be chained.
    real = ledger.writer.deriver.entry  # what the writer calls

    def broken(originator_id: Any, version: int, topic: str, state: bytes) -> Any:
        if topic.endswith("Disclosure.Made"):
            raise KeyError("recipient")
        return real(originator_id, version, topic, state)

    monkeypatch.setattr(ledger.writer.deriver, "entry", broken)
    child = ledger.children[2]
    share(ledger.app, child, "uk_gdpr_6_1_e_public_task_s436a_education_act_1996")
    ledger.app.record_personal_data_read(child, "auditor:test", "parking test")
    ledger.writer.catch_up()
    with psycopg.connect(role_url(services.settings, Role.AUDITOR)) as conn:
        parked = conn.execute("SELECT topic, reason FROM ledger.parked").fetchall()
    assert parked == [
        ("domain.disclosure:Disclosure.Made", parked[0][1]),
    ]
    assert parked[0][1].startswith("KeyError at test_ledger.py")
    # The chain went on past it (the read after the disclosure has its entry) and verifies.
    after = verify_ledger(
        role_url(services.settings, Role.AUDITOR), load_ledger_signer(services.settings).verifier()
    )
    assert after.ok, after.problems
    assert after.entries > before.entries
    # The fix, then the replay: the disclosure joins the chain, nothing stays parked.
    monkeypatch.setattr(ledger.writer.deriver, "entry", real)
    assert ledger.writer.replay_parked() == (1, 0)
    with psycopg.connect(role_url(services.settings, Role.AUDITOR)) as conn:
        # Replayed, it stays on record with where its entry went: out of the log's order
        # on purpose, which a verifier can tell from a swap.
        assert conn.execute(
            "SELECT count(*) FROM ledger.parked WHERE appended_seq IS NULL"
        ).fetchone() == (0,)
        replayed = conn.execute("SELECT appended_seq FROM ledger.parked").fetchall()
        assert len(replayed) == 1 and replayed[0][0] is not None
    final = verify_ledger(
        role_url(services.settings, Role.AUDITOR), load_ledger_signer(services.settings).verifier()
    )
    assert final.ok and final.entries == after.entries + 1
