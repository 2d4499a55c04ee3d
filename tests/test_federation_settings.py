from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from appliance.settings import Settings


def test_federation_defaults_keep_everything_local(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENABLED", "BIND", "TLS_CERT", "TLS_KEY", "CA_BUNDLE", "VERIFY_TLS",
                 "ALLOW_PRIVATE_PEERS", "ALLOWED_SERVERS", "DENIED_SERVERS"):
        monkeypatch.delenv(f"HEARTH_FEDERATION_{name}", raising=False)
    s = Settings()
    assert s.federation_enabled is False
    assert s.federation_allow_private_peers is False
    assert s.federation_verify_tls is True
    assert s.federation_host_port == ("0.0.0.0", 8448)
    assert s.federation_allowed_servers == [] and s.federation_denied_servers == []


def test_federation_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEARTH_FEDERATION_ENABLED", "true")
    monkeypatch.setenv("HEARTH_FEDERATION_BIND", "127.0.0.1:18448")
    monkeypatch.setenv("HEARTH_FEDERATION_TLS_CERT", str(tmp_path / "c.pem"))
    monkeypatch.setenv("HEARTH_FEDERATION_TLS_KEY", str(tmp_path / "k.pem"))
    monkeypatch.setenv("HEARTH_FEDERATION_CA_BUNDLE", str(tmp_path / "ca.pem"))
    monkeypatch.setenv("HEARTH_FEDERATION_ALLOW_PRIVATE_PEERS", "true")
    monkeypatch.setenv("HEARTH_FEDERATION_ALLOWED_SERVERS", "Cousin.Example, *.family.net")
    monkeypatch.setenv("HEARTH_FEDERATION_DENIED_SERVERS", "spam.example")
    s = Settings()
    assert s.federation_enabled and s.federation_allow_private_peers
    assert s.federation_host_port == ("127.0.0.1", 18448)
    assert s.federation_tls_cert == tmp_path / "c.pem" and s.federation_ca_bundle == tmp_path / "ca.pem"
    assert s.federation_allowed_servers == ["cousin.example", "*.family.net"]
    assert s.federation_denied_servers == ["spam.example"]


def test_certificate_without_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="set both or neither"):
        Settings(federation_tls_cert=tmp_path / "c.pem")


def test_insecure_settings_are_announced() -> None:
    assert Settings(federation_enabled=False, federation_verify_tls=False).federation_warnings() == []
    assert Settings(federation_enabled=True).federation_warnings() == []
    warnings = Settings(federation_enabled=True, federation_verify_tls=False,
                        federation_allow_private_peers=True).federation_warnings()
    assert len(warnings) == 2
    assert "VERIFICATION IS OFF" in warnings[0] and "tests only" in warnings[0]
    assert "private addresses" in warnings[1]
