"""Doors shut: empty secrets refused at load, `Bearer ` required, 4xx for malformed requests,
security headers on every page, the envelope from the parsed address only, secrets in URLs
masked, no personal data in run errors, private store files, a keyed erasure record."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from bridge.delivery.mail import Mailer
from bridge.errors import ConfigError, PermanentDeliveryError, SourceError
from bridge.store import Store
from bridge.store.schema import erasures
from bridge.web.server import BackgroundServer, free_port
from cli import main
from connectors.registry import load as load_config
from jobs.run import run_sync

TOKEN = "adm1n-s3cret-t0ken"


@pytest.mark.parametrize("line", ['admin_token = ""', 'admin_token = "   "',
                                  'admin_token = { env = "BB_EMPTY_TOKEN" }'])
def test_an_empty_admin_token_is_refused_at_load_naming_the_key(write_config, monkeypatch, line) -> None:
    monkeypatch.setenv("BB_EMPTY_TOKEN", "")
    path = write_config(f"[bridge]\npublic_url = \"http://127.0.0.1:8000\"\n\n[web]\n{line}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == "web.admin_token" and err.value.line == 5
    assert f"{path}:5: web.admin_token:" in str(err.value)
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 2 and "web.admin_token" in result.output and "Traceback" not in result.output


def test_an_empty_source_secret_is_refused_naming_the_key(write_config, monkeypatch) -> None:
    monkeypatch.setenv("BB_EMPTY", "")
    path = write_config('[sources.m]\nkind = "moodle"\nurl = "http://127.0.0.1:1"\n'
                        'token = { env = "BB_EMPTY" }\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, secrets=True)
    assert err.value.key == "sources.m.token" and err.value.line == 4
    path = write_config('[sources.m]\nkind = "moodle"\nurl = "http://127.0.0.1:1"\ntoken = ""\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == "sources.m.token"


@pytest.fixture
def admin(world, monkeypatch):
    monkeypatch.setenv("BB_ADMIN_TOKEN", TOKEN)
    cfg = world.config.file
    cfg.write_text(cfg.read_text() + '\n[web]\nadmin_token = { env = "BB_ADMIN_TOKEN" }\n')
    config = load_config(cfg)
    world.sheet("a@example.org,A,B,présent,2026-03-01\n")
    run_sync(config, world.store)
    port = free_port()
    server = BackgroundServer(config, world.store, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.mark.parametrize("header", [TOKEN, f"Basic {TOKEN}", f"Token {TOKEN}", "Bearer ", "Bearer",
                                    f"Bearer {TOKEN}x", ""])
def test_the_admin_api_wants_exactly_bearer_and_the_token(admin, header) -> None:
    got = requests.get(f"{admin}/api/admin/runs", headers={"Authorization": header}, timeout=10)
    assert got.status_code == 401 and got.headers["WWW-Authenticate"] == "Bearer"
    assert requests.get(f"{admin}/api/admin/runs", headers={"Authorization": f"Bearer {TOKEN}"},
                        timeout=10).status_code == 200


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/api/admin/runs?limit=abc", None), ("GET", "/api/admin/runs?limit=-1", None),
    ("GET", "/api/admin/runs?limit=99999999999999999999", None),
    ("POST", "/api/admin/awards/AWARD/revoke", b"{not json"), ("POST", "/api/admin/awards/AWARD/revoke", b"[1]"),
    ("POST", "/api/admin/awards/AWARD/revoke", b'{"reason": 5}'), ("POST", "/api/admin/awards/AWARD/revoke", b"\xff\xfe"),
])
def test_a_malformed_admin_request_is_a_400_not_a_500(admin, world, method, path, body) -> None:
    [award] = world.store.awards.listing()
    got = requests.request(method, admin + path.replace("AWARD", award.award.id), data=body,
                           headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert got.status_code == 400, got.text
    assert "Traceback" not in got.text and "error" in got.json()


def test_every_page_carries_the_security_headers(admin, world) -> None:
    [award] = world.store.awards.listing()
    for path in ("/", "/healthz", "/static/page.css", "/nowhere", f"/v/{award.award.id}",
                 f"/ob2/assertions/{award.award.id}", "/api/admin/runs", "/ob2/revocations"):
        got = requests.get(admin + path, headers={"Accept": "text/html"}, timeout=10)
        csp = got.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, path
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert got.headers["X-Content-Type-Options"] == "nosniff", path
        assert got.headers["Referrer-Policy"] == "no-referrer", path
        assert got.headers["X-Frame-Options"] == "DENY", path


def test_a_sheet_address_with_markup_is_refused_and_never_reaches_smtp(world) -> None:
    world.sheet("x4+<svg/onload=alert(1)>@example.org,A,B,présent,2026-03-01\n"
                "ok@example.org,C,D,présent,2026-03-01\n")
    report = run_sync(world.config, world.store)
    assert report.awarded == 1 and world.mailbox.recipients == [["ok@example.org"]]
    [error] = report.errors
    assert error.endpoint == "s1.csv:2" and "not an email address" in error.message


@pytest.mark.parametrize("to", ["x4+<svg/onload=alert(1)>@example.org", "a@example.org, b@example.org",
                                '"victim@example.net" <x@example.org>, other@example.net'])
def test_the_smtp_envelope_is_the_parsed_address_only(world, to) -> None:
    msg = EmailMessage()
    msg["To"], msg["Subject"] = to, "hello"
    msg.set_content("hello")
    with pytest.raises(PermanentDeliveryError), Mailer(world.config.smtp) as mailer:
        mailer.send(msg)
    assert world.mailbox.received == 0
    with Mailer(world.config.smtp) as mailer:  # the envelope given: what the header says is not used
        mailer.send(msg, to="Learner@Example.org")
    assert world.mailbox.recipients == [["learner@example.org"]]


def test_config_check_masks_every_secret_in_urls(write_config) -> None:
    path = write_config('[bridge]\ndatabase_url = "postgresql://bb:hunter2@127.0.0.1:1/x?sslmode=disable'
                        '&password=hunter3"\npublic_url = "https://u:hunter4@badges.example.org"\n'
                        '[sources.sheets]\nkind = "csv"\npath = "sheets"\ncourse = "87"\n')
    # config check also checks what the file refers to: a rules folder whose rules check
    (path.parent / "sheets").mkdir()
    (path.parent / "rules").mkdir()
    (path.parent / "rules" / "came.toml").write_text(
        '[badge]\nid = "came"\nname = { en = "Came" }\ndescription = { en = "Came." }\n'
        'criteria = { en = "Complete course 87." }\n\n[condition]\n'
        'course_completed = { source = "sheets", course = "87" }\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "hunter" not in result.output
    assert "postgresql://bb:***@127.0.0.1:1/x?sslmode=disable&password=***" in result.output


def test_a_database_error_copies_no_learner_data_into_run_errors(world) -> None:
    """An unexpected failure (here the store refusing the write, as PostgreSQL does with a NUL
    byte or an over-long value) is told by its class and place, never by the rows it quotes."""
    from bridge.model import Batch, Fact, FactKind, Identity

    class Broken:
        requests: dict[str, int] = {}

        def pull(self, state):
            yield Batch(identities=[Identity("lms", "1", email="ann.secret@example.org",
                                             fullname="Ann Secretname")],
                        facts=[Fact("lms", "1", FactKind.enrolment, "c1")])
            raise ValueError("duplicate key (email)=(ann.secret@example.org) Ann Secretname")

        def close(self) -> None:
            pass

    cfg = world.config.file
    cfg.write_text(cfg.read_text() + '\n[sources.lms]\nkind = "csv"\npath = "nowhere.csv"\n')
    config = load_config(cfg)
    store = world.store
    original = store.facts.ingest

    def failing_ingest(run_id, batch):
        from sqlalchemy.exc import IntegrityError

        raise IntegrityError("INSERT INTO learners (email, fullname) VALUES (?, ?)",
                             ("ann.secret@example.org", "Ann Secretname"), Exception("UNIQUE"))

    store.facts.ingest = failing_ingest  # type: ignore[method-assign]
    try:
        report = run_sync(config, store, sources=["lms"], connectors={"lms": Broken()},
                          steps=("pull",))
    finally:
        store.facts.ingest = original  # type: ignore[method-assign]
    assert report.errors
    for error in report.errors:
        text = f"{error.message} {error.endpoint} {error.field}"
        assert "ann.secret" not in text and "Secretname" not in text, text
    assert any("IntegrityError" in e.message and ".py:" in e.message for e in report.errors)
    store.runs.record_error(report.run_id, SourceError(
        "see https://lms.example.org/x?wstoken=abc123 for ann@example.org", source="lms"))
    last = store.runs.errors(report.run_id)[-1].message
    assert "abc123" not in last and "ann@example.org" not in last


def test_the_store_is_private_to_its_account(tmp_path: Path) -> None:
    data = tmp_path / "state"
    store = Store(f"sqlite:///{data / 'bridge.db'}")
    store.close()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "bridge.db").stat().st_mode) == 0o600
    old = tmp_path / "old.db"  # a store an earlier version created world-readable
    old.touch(mode=0o644)
    os.chmod(old, 0o644)
    Store(f"sqlite:///{old}").close()
    assert stat.S_IMODE(old.stat().st_mode) == 0o600


def test_the_erasure_record_is_a_keyed_hmac(world) -> None:
    world.sheet("erase.me@example.org,A,B,présent,2026-03-01\n")
    run_sync(world.config, world.store)
    assert world.store.erasure.erase("erase.me@example.org", "asked") is not None
    keys = world.config.bridge.keys_path
    key_file = keys / "erasure.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and stat.S_IMODE(keys.stat().st_mode) == 0o700
    with world.store.engine.connect() as conn:
        [(kept, keyed)] = conn.execute(select(erasures.c.email_hash, erasures.c.keyed)).all()
    unkeyed = hashlib.sha256(b"badge-bridge-erasure:erase.me@example.org").hexdigest()
    assert kept != unkeyed and keyed
    assert kept == hmac.new(bytes.fromhex(key_file.read_text()), unkeyed.encode(), hashlib.sha256).hexdigest()
    # The next sync does not bring the learner back.
    world.sheet("erase.me@example.org,A,B,présent,2026-03-02\n", name="s2.csv")
    assert run_sync(world.config, world.store).awarded == 0


def test_unkeyed_erasures_of_an_earlier_version_are_rewritten_with_the_key(world) -> None:
    from datetime import UTC, datetime

    unkeyed = hashlib.sha256(b"badge-bridge-erasure:old@example.org").hexdigest()
    with world.store.engine.begin() as conn:
        conn.execute(erasures.insert().values(email_hash=unkeyed, erased_at=datetime.now(UTC),
                                              keyed=False))
    store = Store(world.config.bridge.db_url, keys_dir=world.config.bridge.keys_path)
    with store.engine.connect() as conn:
        [(kept, keyed)] = conn.execute(select(erasures.c.email_hash, erasures.c.keyed)).all()
    assert keyed and kept != unkeyed
    world.sheet("old@example.org,A,B,présent,2026-03-01\n")
    assert run_sync(world.config, store).awarded == 0  # still recognised
    store.close()


def test_log_lines_carry_no_secret_of_a_url(caplog) -> None:
    import logging

    from bridge.redact import RedactFilter

    handler = logging.StreamHandler()
    handler.addFilter(RedactFilter())
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "calling %s",
                               ("https://lms.example.org/webservice/rest/server.php?wstoken=s3cr3t&x=1",), None)
    handler.filter(record)
    assert record.getMessage() == "calling https://lms.example.org/webservice/rest/server.php?wstoken=***&x=1"
    db = logging.LogRecord("x", logging.ERROR, __file__, 1, "cannot open postgresql://bb:pw0rd@db/x", None, None)
    handler.filter(db)
    assert "pw0rd" not in db.getMessage() and "bb:***@db" in db.getMessage()
