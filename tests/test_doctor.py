"""`badge-bridge doctor`'s own probes (store, keys, SMTP, public URL) against the real thing —
SQLite and PostgreSQL, files, an aiosmtpd server with TLS and authentication — and the command:
its lines, `--json`, `--source`, the exit code. Nothing is written anywhere, no mail is sent."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from bridge.config import BridgeSettings, Config, SmtpSettings
from bridge.issuing.keys import generate_key
from bridge.model import Finding, FindingStatus
from bridge.store import Store
from bridge.web.server import free_port
from cli.doctor import render
from cli.main import main
from jobs.doctor import keys_findings, public_url_findings, smtp_finding, store_finding


# -- the store --------------------------------------------------------------------
def test_the_store_is_probed_without_being_created_or_migrated(db_url: str, tmp_path: Path) -> None:
    config = Config(file=tmp_path / "b.toml", bridge=BridgeSettings(database_url=db_url))
    if db_url.startswith("sqlite"):
        found = store_finding(config)
        assert (found.status, found.detail) == (FindingStatus.warn, "not created yet")
        assert not (tmp_path / "bridge.db").exists()  # still not
    Store(db_url).close()
    found = store_finding(config)
    assert found.status is FindingStatus.ok and found.detail.startswith("reachable, schema at revision")


def test_a_store_written_by_another_version_or_down(tmp_path: Path) -> None:
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    Store(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    config = Config(file=tmp_path / "b.toml", bridge=BridgeSettings(database_url=url))
    found = store_finding(config)
    assert found.status is FindingStatus.fail
    assert found.detail == "schema at revision 9999_future, which this version does not know"
    down = Config(file=tmp_path / "b.toml", bridge=BridgeSettings(
        database_url=f"postgresql://postgres@127.0.0.1:{free_port('127.0.0.1')}/nothing"))
    found = store_finding(down)
    assert found.status is FindingStatus.fail and found.detail.startswith("unreachable: ")
    assert found.fix == "check bridge.database_url and that the database server runs"


# -- the keys ---------------------------------------------------------------------
def test_keys_present_and_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    assert [f.detail for f in keys_findings(folder)] == [f"none yet in {folder}"]
    generate_key(folder, "rsa")
    found = keys_findings(folder)
    assert [(f.status.value, f.detail) for f in found] == [("warn", f"no ed25519 key yet in {folder}")]
    pem = generate_key(folder, "ed25519")
    assert [f.status.value for f in keys_findings(folder)] == ["ok"]
    path = next(p for p in folder.glob("ed25519-*.pem"))
    os.chmod(path, 0o644)
    found = keys_findings(folder)
    assert [(f.status.value, f.detail, f.fix) for f in found] == [
        ("fail", f"{path} can be read by other users", f"chmod 600 {path}")]
    assert pem.kid  # generated, not probed: the probe itself writes nothing


# -- SMTP -------------------------------------------------------------------------
class Smtp:
    """A real aiosmtpd server: optional STARTTLS (a self-signed certificate) and LOGIN/PLAIN."""

    def __init__(self, tmp: Path, *, tls: bool = False, user: str | None = None) -> None:
        self.messages = 0
        self.cert = tmp / "cert.pem"
        context = _tls_context(tmp, self.cert) if tls else None
        kwargs: dict[str, Any] = {"auth_require_tls": tls}
        if user:
            kwargs["authenticator"] = self._check
            self.user = user
        self.port = free_port("127.0.0.1")
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, tls_context=context,
                                     require_starttls=tls, **kwargs)

    def _check(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == self.user \
            and data.password == b"right"
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        return "250 OK"


def _tls_context(tmp: Path, cert_path: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = tmp / "key.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[Any]:
    started: list[Smtp] = []

    def start(**kw: Any) -> Smtp:
        server = Smtp(tmp_path, **kw)
        server.controller.start()
        started.append(server)
        return server
    yield start
    for server in started:
        server.controller.stop()


def smtp_config(tmp_path: Path, port: int, **kw: Any) -> Config:
    if "password" in kw:
        kw["password"] = SecretStr(kw["password"])
    return Config(file=tmp_path / "b.toml", smtp=SmtpSettings(host="127.0.0.1", port=port, **kw))


def test_smtp_connects_authenticates_and_sends_nothing(tmp_path: Path, smtp_server: Any) -> None:
    plain = smtp_server(user="mailer")
    found = smtp_finding(smtp_config(tmp_path, plain.port, username="mailer", password="right"))
    assert (found.status.value, found.detail) == ("ok", "connected, authenticated as mailer; no "
                                                  "message sent")
    refused = smtp_finding(smtp_config(tmp_path, plain.port, username="mailer", password="wrong"))
    assert refused.status is FindingStatus.fail
    assert refused.detail.startswith("authentication refused: 535")
    assert refused.fix == "check [smtp] username and password"
    no_tls = smtp_finding(smtp_config(tmp_path, plain.port, security="starttls"))
    assert (no_tls.status.value, no_tls.detail) == ("fail", "the server does not offer STARTTLS")
    assert plain.messages == 0


def test_smtp_starttls_checks_the_certificate(tmp_path: Path, smtp_server: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    server = smtp_server(tls=True, user="mailer")
    config = smtp_config(tmp_path, server.port, security="starttls", username="mailer",
                         password="right")
    untrusted = smtp_finding(config)
    assert untrusted.status is FindingStatus.fail and untrusted.detail.startswith("TLS failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.detail
    monkeypatch.setenv("SSL_CERT_FILE", str(server.cert))  # the machine now trusts it
    found = smtp_finding(config)
    assert (found.status.value, found.detail) == (
        "ok", "connected, TLS, authenticated as mailer; no message sent")
    assert server.messages == 0


def test_smtp_implicit_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert = tmp_path / "cert.pem"
    handler = Smtp.__new__(Smtp)
    handler.messages = 0
    port = free_port("127.0.0.1")
    controller = Controller(handler, hostname="127.0.0.1", port=port,
                            ssl_context=_tls_context(tmp_path, cert))
    controller.start()
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        found = smtp_finding(smtp_config(tmp_path, port, security="tls"))
        plain = smtp_finding(smtp_config(tmp_path, port, security="none", timeout=2.0))
    finally:
        controller.stop()
    assert (found.status.value, found.detail) == ("ok", "connected, TLS; no message sent")
    assert plain.status is FindingStatus.fail  # a plain greeting never comes on a TLS port
    assert handler.messages == 0


def test_smtp_nobody_listening(tmp_path: Path) -> None:
    found = smtp_finding(smtp_config(tmp_path, free_port("127.0.0.1")))
    assert found.status is FindingStatus.fail and found.detail.startswith("connect failed: ")
    assert found.fix == "check [smtp] host, port and security" and found.feature == "emails"


# -- the public URL ---------------------------------------------------------------
def test_the_public_url_is_a_warning_only_when_it_does_not_answer() -> None:
    import requests

    def down(url: str, **kw: Any) -> Any:
        raise requests.ConnectionError("refused")

    assert public_url_findings("https://badges.example.org", get=lambda url, **kw: None) == []
    [found] = public_url_findings("https://badges.example.org", get=down)
    assert (found.status.value, found.detail) == (
        "warn", "does not answer from this machine (ConnectionError)")


# -- the command --------------------------------------------------------------------
def test_render_puts_the_fix_under_each_problem() -> None:
    findings = [Finding(FindingStatus.ok, "store", "reachable"),
                Finding(FindingStatus.fail, "capability x", "refused", "grant x", "grades", "campus"),
                Finding(FindingStatus.warn, "capability y", "not verifiable without writing",
                        "make sure", "pushing completion", "campus")]
    assert render(findings) == [
        "bridge", "  ✓ store: reachable",
        "source campus", "  ✗ capability x: refused (needed for grades)", "      fix: grant x",
        "  ⚠ capability y: not verifiable without writing (needed for pushing completion)",
        "      fix: make sure"]


def test_the_command_exit_code_json_and_source(tmp_path: Path, smtp_server: Any) -> None:
    server = smtp_server()
    sheets = tmp_path / "sheets"
    sheets.mkdir()
    (sheets / "a.csv").write_text("email;status;session\nana@example.org;P;s1\n", encoding="utf-8")
    config = tmp_path / "bridge.toml"
    public = f"http://127.0.0.1:{free_port('127.0.0.1')}"
    config.write_text(f"""
[bridge]
data_dir = "data"
public_url = "{public}"
[smtp]
port = {server.port}
[sources.sheets]
kind = "csv"
path = "sheets"
[sources.gone]
kind = "csv"
path = "gone"
""", encoding="utf-8")
    runner = CliRunner()
    good = runner.invoke(main, ["doctor", "--config", str(config), "--source", "sheets"])
    assert good.exit_code == 0, good.output
    assert good.output.splitlines() == ["source sheets", "  ✓ sheet a.csv: header understood, "
                                        "1 presence", "1 ✓, 0 ✗, 0 ⚠"]
    everything = runner.invoke(main, ["doctor", "--config", str(config), "--json"])
    assert everything.exit_code == 1
    doc = json.loads(everything.output)
    assert doc["ok"] is False
    assert [(f["source"], f["subject"], f["status"]) for f in doc["findings"]
            if f["status"] != "ok" or f["source"]] == [
        ("", "store", "warn"), ("", "signing keys", "warn"),
        ("", f"public URL {public}", "warn"),
        ("sheets", "sheet a.csv", "ok"), ("gone", "sheets", "fail")]
    assert not (tmp_path / "data").exists()  # nothing created
    unknown = runner.invoke(main, ["doctor", "--config", str(config), "--source", "nope"])
    assert unknown.exit_code == 2 and "no source nope; configured sources: gone, sheets" in unknown.output
    french = runner.invoke(main, ["--lang", "fr", "doctor", "--config", str(config), "--source", "gone"])
    assert french.output.splitlines() == [
        "source gone", f"  ✗ feuilles\u00a0: {tmp_path / 'gone'} n’existe pas (nécessaire pour les "
        "présences)", "      correction\u00a0: créez le dossier, ou corrigez sources.gone.path",
        "0 ✓, 1 ✗, 0 ⚠"]
    assert french.exit_code == 1
