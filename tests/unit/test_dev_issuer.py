"""The development issuer: the API tried in the embedded mode with no identity provider.

It is refused in services mode unless enabled on purpose, and its tokens are
checked like any other (signature, audience, expiry).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cme import dev_issuer
from cme.cli import main
from cme.identity import InvalidTokenError
from cme.settings import PROJECT_ROOT, load_settings
from devtools.synthetic import SyntheticCounty
from tests.seeds import seed


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CME_MODE", "embedded")
    monkeypatch.setenv("CME_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CME_OIDC_ISSUER", raising=False)
    monkeypatch.delenv("CME_DEV_ISSUER", raising=False)
    return tmp_path


def test_a_development_token_carries_its_role_and_subject(embedded: Path) -> None:
    settings = load_settings()
    token = dev_issuer.issue(settings, "caseworker", "officer-1")
    staff = dev_issuer.verifier(settings).verify(token)
    assert staff.roles == {"caseworker"}
    assert staff.actor == "staff:officer-1"
    assert (embedded / "secrets" / "dev-issuer-key.pem").stat().st_mode & 0o077 == 0


def test_tampered_expired_and_foreign_tokens_are_refused(embedded: Path) -> None:
    settings = load_settings()
    check = dev_issuer.verifier(settings)
    header, _claims, signature = dev_issuer.issue(settings, "caseworker", "o-1").split(".")
    promoted = dev_issuer.issue(settings, "dpo", "o-1").split(".")[1]
    with pytest.raises(InvalidTokenError):
        check.verify(".".join([header, promoted, signature]))  # another token's claims
    other = load_settings(data_dir=embedded / "elsewhere")  # another key
    with pytest.raises(InvalidTokenError):
        check.verify(dev_issuer.issue(other, "caseworker", "o-1"))
    expired = dev_issuer.issue(settings, "caseworker", "o-1", minutes=-5)
    with pytest.raises(InvalidTokenError):
        check.verify(expired)


def test_services_mode_refuses_the_development_issuer_unless_enabled(
    embedded: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CME_MODE", "services")
    monkeypatch.setenv("CME_DATABASE_URL", "postgresql://u:p@127.0.0.1:1/cme")
    assert main(["tokens", "issue", "--role", "caseworker", "--sub", "officer-1"]) == 2
    assert "CME_OIDC_ISSUER" in capsys.readouterr().err
    monkeypatch.setenv("CME_DEV_ISSUER", "1")
    assert main(["tokens", "issue", "--role", "caseworker", "--sub", "officer-1"]) == 0


def test_the_api_serves_the_embedded_mode_with_development_tokens(embedded: Path) -> None:
    """A newcomer's API: no identity provider, no services, views caught up at each read."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CME_")}
    env |= {"CME_MODE": "embedded", "CME_DATA_DIR": str(embedded)}
    server = subprocess.Popen(
        [sys.executable, "-m", "cme.cli", "serve", "--port", str(port)],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    settings = load_settings()

    def call(method: str, path: str, role: str, body: object = None) -> tuple[int, Any]:
        token = dev_issuer.issue(settings, role, f"{role}-1")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if method == "POST":
            headers["Idempotency-Key"] = f"k-{time.monotonic_ns()}"
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return int(response.status), json.loads(response.read())
        except urllib.error.HTTPError as refused:
            with refused:
                return int(refused.code), json.loads(refused.read())

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _ = call("GET", "/v1/cases", "caseworker")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        assert status == 200
        assert call("GET", "/v1/cases", "auditor")[0] == 403
        county = SyntheticCounty(seed=seed("embedded api"))
        referral = {
            "details": county.child_details(),
            "source": "professional",
            "reason": "removed_from_roll_whereabouts_unknown",
            "referred_on": date.today().isoformat(),
        }
        status, referred = call("POST", "/v1/referrals", "caseworker", referral)
        assert status == 201, referred
        # No projector runs here: the read is what catches the views up.
        status, cases = call("GET", "/v1/cases", "caseworker")
        assert [item["case_id"] for item in cases["items"]] == [referred["case_id"]]
        status, none = call("GET", "/v1/cases?status=whereabouts_unknown", "caseworker")
        assert (status, none["total"]) == (200, 0)
        status, mine = call("GET", "/v1/cases?status=referred", "caseworker")
        assert (status, mine["total"]) == (200, 1)
        status, wrong = call(
            "GET", "/v1/views/moves-awaiting-confirmation?school_urn=117001", "caseworker"
        )
        assert status == 422, wrong
        assert wrong["errors"][0]["rule"] == "not_a_filter_here"
        # The ledger lives in PostgreSQL: embedded, the auditor is told so, not given a 500.
        status, ledger = call("GET", "/v1/audit/ledger", "auditor")
        assert status == 503, ledger
        assert "PostgreSQL" in ledger["detail"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_header_naming_another_algorithm_is_refused_not_a_crash(embedded: Path) -> None:
    import base64

    settings = load_settings()
    _header, claims, signature = dev_issuer.issue(settings, "caseworker", "o-1").split(".")
    for alg in ("RS256", "PS256", "HS256", "none"):
        header = base64.urlsafe_b64encode(json.dumps({"alg": alg}).encode()).decode().rstrip("=")
        with pytest.raises(InvalidTokenError):
            dev_issuer.verifier(settings).verify(".".join([header, claims, signature]))


def test_keys_are_fetched_over_https_except_from_this_machine() -> None:
    from cme.identity import TokenVerifier

    with pytest.raises(ValueError, match="https"):
        TokenVerifier("http://sign-in.example.org/realms/cme", "cme-api", "roles")
    TokenVerifier("https://sign-in.example.org/realms/cme", "cme-api", "roles")
    TokenVerifier("http://127.0.0.1:18080/realms/cme", "cme-api", "roles")
    # Only on a private container network, and only when said so (docker-compose).
    TokenVerifier("http://keycloak:8080/realms/cme", "cme-api", "roles", insecure_http=True)
