"""What the web console keeps and reads: admin accounts, their sessions, failed logins, the audit
log, the rule versions runs published, and the console's read-only views (searches, counts).

Passwords arrive hashed (bridge.accounts); a session's cookie is kept as its sha256 only, so the
table does not hold a usable key. Rows handed out are the frozen dataclasses below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bridge.errors import StoreError
from bridge.model import Identity
from bridge.store.awards import _award, _award_query
from bridge.store.rows import Learner, ListedAward, OutboxItem, aware
from bridge.store.schema import (
    admin_accounts,
    admin_audit,
    admin_login_failures,
    admin_sessions,
    awards,
    identities,
    learners,
    outbox,
    rule_versions,
)

__all__ = ["Admin", "AdminAccount", "AdminSession", "AuditEntry", "RuleVersion", "VersionUse"]


@dataclass(frozen=True, slots=True)
class AdminAccount:
    id: int
    username: str
    password_hash: str
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True, slots=True)
class AdminSession:
    account_id: int
    username: str
    csrf: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    address: str | None


@dataclass(frozen=True, slots=True)
class RuleVersion:
    """A version of a badge's rule file, as a run first published it."""

    badge_id: str
    version: str
    first_seen_at: datetime
    definition: dict[str, Any]


@dataclass(frozen=True, slots=True)
class VersionUse:
    """The awards issued under one rule version: how many, the first and the last."""

    version: str
    awards: int
    first_issued_at: datetime
    last_issued_at: datetime


@dataclass
class Admin:
    engine: Engine

    # -- accounts ---------------------------------------------------------------
    def add_account(self, username: str, password_hash: str) -> AdminAccount:
        """A new account; StoreError if the name is taken."""
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(admin_accounts).values(username=username, password_hash=password_hash,
                                                           created_at=now))
        except IntegrityError:
            raise StoreError(f"an admin account named {username!r} exists already") from None
        found = self.account(username)
        assert found is not None
        return found

    def set_password(self, username: str, password_hash: str) -> bool:
        """A new password for an account; its sessions end."""
        with self.engine.begin() as conn:
            account_id = conn.execute(select(admin_accounts.c.id).where(
                admin_accounts.c.username == username)).scalar_one_or_none()
            if account_id is None:
                return False
            conn.execute(update(admin_accounts).where(admin_accounts.c.id == account_id)
                         .values(password_hash=password_hash))
            conn.execute(delete(admin_sessions).where(admin_sessions.c.account_id == account_id))
        return True

    def remove_account(self, username: str) -> bool:
        """The account and its sessions gone; the audit log keeps its name."""
        with self.engine.begin() as conn:
            account_id = conn.execute(select(admin_accounts.c.id).where(
                admin_accounts.c.username == username)).scalar_one_or_none()
            if account_id is None:
                return False
            conn.execute(delete(admin_sessions).where(admin_sessions.c.account_id == account_id))
            conn.execute(delete(admin_accounts).where(admin_accounts.c.id == account_id))
        return True

    def account(self, username: str) -> AdminAccount | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(admin_accounts).where(admin_accounts.c.username == username)).first()
        return AdminAccount(r.id, r.username, r.password_hash, aware(r.created_at),
                            aware(r.last_login_at)) if r else None

    def accounts(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(admin_accounts.c.username)
                                     .order_by(admin_accounts.c.username)).scalars())

    # -- sessions ---------------------------------------------------------------
    def open_session(self, account_id: int, token_hash: str, csrf: str, lifetime: timedelta) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(delete(admin_sessions).where(admin_sessions.c.expires_at < now))
            conn.execute(insert(admin_sessions).values(token_hash=token_hash, account_id=account_id,
                                                       csrf=csrf, created_at=now,
                                                       expires_at=now + lifetime))
            conn.execute(update(admin_accounts).where(admin_accounts.c.id == account_id)
                         .values(last_login_at=now))

    def session(self, token_hash: str) -> AdminSession | None:
        """The live session of this cookie hash; None once it expired or ended."""
        with self.engine.connect() as conn:
            r = conn.execute(select(admin_sessions, admin_accounts.c.username)
                             .join(admin_accounts, admin_accounts.c.id == admin_sessions.c.account_id)
                             .where(admin_sessions.c.token_hash == token_hash,
                                    admin_sessions.c.expires_at > datetime.now(UTC))).first()
        return AdminSession(r.account_id, r.username, r.csrf, aware(r.expires_at)) if r else None

    def close_session(self, token_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(admin_sessions).where(admin_sessions.c.token_hash == token_hash))

    # -- login throttling ---------------------------------------------------------
    def failures(self, keys: Sequence[str], since: datetime) -> dict[str, int]:
        """Failed logins per key since `since`."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(admin_login_failures.c.key, func.count())
                                .where(admin_login_failures.c.key.in_(list(keys)),
                                       admin_login_failures.c.at >= since)
                                .group_by(admin_login_failures.c.key)).all()
        return {k: 0 for k in keys} | {r[0]: int(r[1]) for r in rows}

    def record_failure(self, keys: Sequence[str], forget_before: datetime) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(delete(admin_login_failures).where(admin_login_failures.c.at < forget_before))
            conn.execute(insert(admin_login_failures), [{"key": k, "at": now} for k in keys])

    def clear_failures(self, keys: Sequence[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(admin_login_failures).where(admin_login_failures.c.key.in_(list(keys))))

    # -- audit ------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str, detail: dict[str, Any] | None = None,
              address: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(admin_audit).values(at=datetime.now(UTC), actor=actor, action=action,
                                                    target=target[:400], detail=detail or {},
                                                    address=address))

    def audit_log(self, limit: int = 200) -> list[AuditEntry]:
        with self.engine.connect() as conn:
            return [AuditEntry(r.id, aware(r.at), r.actor, r.action, r.target, dict(r.detail),
                               r.address)
                    for r in conn.execute(select(admin_audit).order_by(admin_audit.c.id.desc())
                                          .limit(limit))]

    # -- rule versions ------------------------------------------------------------
    def rule_versions(self, badge_id: str) -> list[RuleVersion]:
        """The versions runs published, newest first."""
        with self.engine.connect() as conn:
            return [RuleVersion(r.badge_id, r.version, aware(r.first_seen_at), dict(r.definition))
                    for r in conn.execute(select(rule_versions).where(rule_versions.c.badge_id == badge_id)
                                          .order_by(rule_versions.c.first_seen_at.desc()))]

    def version_uses(self, badge_id: str) -> list[VersionUse]:
        """The rule versions the badge's awards were issued under (older than any record)."""
        with self.engine.connect() as conn:
            return [VersionUse(r.rule_version, int(r.n), aware(r.first), aware(r.last))
                    for r in conn.execute(
                        select(awards.c.rule_version, func.count().label("n"),
                               func.min(awards.c.issued_at).label("first"),
                               func.max(awards.c.issued_at).label("last"))
                        .where(awards.c.badge_id == badge_id).group_by(awards.c.rule_version)
                        .order_by(func.min(awards.c.issued_at).desc()))]

    # -- what the console reads -------------------------------------------------------
    def find_learners(self, text: str, limit: int = 50) -> list[Learner]:
        """Learners whose email or name contains `text` (any case), erased ones left out."""
        pattern = f"%{text.strip().lower()}%"
        with self.engine.connect() as conn:
            return [Learner(r.id, r.email, r.fullname, r.lang, aware(r.created_at), aware(r.erased_at))
                    for r in conn.execute(select(learners).where(
                        learners.c.erased_at.is_(None),
                        or_(learners.c.email.like(pattern), func.lower(learners.c.fullname).like(pattern)))
                        .order_by(learners.c.email).limit(limit))]

    def identities_of(self, learner_id: int) -> list[Identity]:
        """The learner's identity on each source."""
        with self.engine.connect() as conn:
            return [Identity(r.source, r.external_id, r.username, r.email, r.fullname, r.lang)
                    for r in conn.execute(select(identities).where(identities.c.learner_id == learner_id)
                                          .order_by(identities.c.source))]

    def search_awards(self, *, text: str = "", badge_id: str = "", validity: str = "",
                      limit: int = 200) -> list[ListedAward]:
        """The newest awards first: of a badge, of learners whose email or name contains `text`
        (or with this award id), valid, expired or revoked now."""
        q = _award_query().order_by(awards.c.issued_at.desc(), awards.c.id).limit(limit)
        if badge_id:
            q = q.where(awards.c.badge_id == badge_id)
        now = datetime.now(UTC)
        if validity == "revoked":
            q = q.where(awards.c.status == "revoked")
        elif validity == "expired":
            q = q.where(awards.c.status != "revoked", awards.c.expires_at <= now)
        elif validity == "valid":
            q = q.where(awards.c.status != "revoked",
                        or_(awards.c.expires_at.is_(None), awards.c.expires_at > now))
        if text.strip():
            pattern = f"%{text.strip().lower()}%"
            q = q.where(or_(learners.c.email.like(pattern), func.lower(learners.c.fullname).like(pattern),
                            awards.c.id == text.strip()))
        with self.engine.connect() as conn:
            return [ListedAward(_award(r), r.learner_email) for r in conn.execute(q)]

    def awards_since(self, since: datetime) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(awards)
                                    .where(awards.c.issued_at >= since)).scalar_one())

    def outbox_counts(self) -> dict[tuple[str, str], int]:
        """(channel, status) -> number of items."""
        with self.engine.connect() as conn:
            return {(r[0], r[1]): int(r[2]) for r in conn.execute(
                select(outbox.c.channel, outbox.c.status, func.count())
                .group_by(outbox.c.channel, outbox.c.status))}

    def failed_deliveries(self, limit: int = 20) -> list[OutboxItem]:
        from bridge.store.outbox import _item

        with self.engine.connect() as conn:
            return [_item(r) for r in conn.execute(select(outbox).where(outbox.c.status == "failed")
                                                   .order_by(outbox.c.id.desc()).limit(limit))]
