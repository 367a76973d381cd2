"""What the console keeps, on SQLite and PostgreSQL: accounts, sessions (only the cookie's hash),
failed logins, the audit log, and each badge's rule versions as runs publish them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from bridge.accounts import hash_password, needs_rehash, verify_password
from bridge.errors import StoreError
from bridge.store import Store


@pytest.fixture
def store(db_url: str):
    s = Store(db_url)
    yield s
    s.close()


def test_accounts_sessions_and_their_end(store: Store) -> None:
    account = store.admin.add_account("ana", hash_password("a long enough secret"))
    with pytest.raises(StoreError, match="exists already"):
        store.admin.add_account("ana", hash_password("another long secret"))
    assert verify_password(account.password_hash, "a long enough secret")
    assert not verify_password(account.password_hash, "A long enough secret")
    assert not needs_rehash(account.password_hash)
    token_hash = hashlib.sha256(b"cookie").hexdigest()
    store.admin.open_session(account.id, token_hash, "csrf-1", timedelta(hours=1))
    live = store.admin.session(token_hash)
    assert live is not None and live.username == "ana" and live.csrf == "csrf-1"
    assert store.admin.account("ana").last_login_at is not None
    # A new password ends the account's sessions; an expired session is no session.
    store.admin.set_password("ana", hash_password("a brand new secret"))
    assert store.admin.session(token_hash) is None
    store.admin.open_session(account.id, token_hash, "csrf-2", timedelta(seconds=-1))
    assert store.admin.session(token_hash) is None


def test_failed_logins_are_counted_per_key_in_the_window(store: Store) -> None:
    keys = ["ana|10.0.0.1", "ana|*"]
    since = datetime.now(UTC) - timedelta(minutes=15)
    for _ in range(3):
        store.admin.record_failure(keys, since)
    store.admin.record_failure(["ana|10.0.0.2", "ana|*"], since)
    assert store.admin.failures(keys, since) == {"ana|10.0.0.1": 3, "ana|*": 4}
    assert store.admin.failures(keys, datetime.now(UTC) + timedelta(seconds=1)) == {
        "ana|10.0.0.1": 0, "ana|*": 0}
    store.admin.clear_failures(keys[:1])
    assert store.admin.failures(keys, since)["ana|10.0.0.1"] == 0


def test_the_audit_log_is_newest_first(store: Store) -> None:
    store.admin.audit("ana", "revoke", "award-1", {"reason": "doublon"}, "10.0.0.1")
    store.admin.audit("bob", "erase", "learner 7", {"facts": 3})
    log = store.admin.audit_log()
    assert [(e.actor, e.action, e.target) for e in log] == [("bob", "erase", "learner 7"),
                                                            ("ana", "revoke", "award-1")]
    assert log[1].detail == {"reason": "doublon"} and log[1].address == "10.0.0.1"


def test_each_rule_version_is_kept_once_when_first_published(store: Store) -> None:
    definition = {"name": {"fr": "SNT"}}
    store.awards.publish_badge("snt", "v1", definition, None, None)
    store.awards.publish_badge("snt", "v1", definition, None, None)  # every run publishes
    store.awards.publish_badge("snt", "v2", {"name": {"fr": "SNT 2"}}, None, None)
    versions = store.admin.rule_versions("snt")
    assert [v.version for v in versions] == ["v2", "v1"]
    assert versions[1].definition == definition
    assert store.admin.rule_versions("other") == []
