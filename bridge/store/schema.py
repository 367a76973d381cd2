"""The database schema (SQLAlchemy Core). Alembic migrations under bridge/migrations build it.

The unique constraints are what make every step idempotent: re-running a step hits them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

__all__ = [
    "metadata", "learners", "identities", "facts", "watermarks", "runs", "run_errors",
    "badges", "awards", "outbox",
]

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

TS = DateTime(timezone=True)

learners = Table(
    "learners", metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), unique=True),  # normalised; NULL when no source gave one
    Column("fullname", String(300)),
    Column("lang", String(8)),
    Column("created_at", TS, nullable=False),
    Column("erased_at", TS),
    # The learner asked (from the link in their email) not to show their name on their pages.
    Column("hide_name", Boolean, nullable=False, server_default=false()),
)

identities = Table(
    "identities", metadata,
    Column("id", Integer, primary_key=True),
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("source", String(100), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("username", String(200)),
    Column("email", String(320)),
    Column("fullname", String(300)),
    Column("lang", String(8)),
    UniqueConstraint("source", "external_id", name="uq_identities_source_external_id"),
)

facts = Table(
    "facts", metadata,
    Column("id", Integer, primary_key=True),
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="CASCADE"), nullable=False),
    Column("source", String(100), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("course", String(200), nullable=False),
    Column("item", String(200), nullable=False, default=""),
    Column("value", Float),
    Column("status", String(100), nullable=False, default=""),
    Column("occurred_at", TS),
    Column("attrs", JSON, nullable=False),
    Column("first_run", Integer, nullable=False),
    Column("changed_run", Integer, nullable=False, index=True),
    UniqueConstraint("learner_id", "source", "kind", "course", "item", name="uq_facts_natural_key"),
)

watermarks = Table(
    "watermarks", metadata,
    Column("source", String(100), primary_key=True),
    Column("course", String(200), primary_key=True),
    Column("stream", String(200), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", TS, nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS),
    # running, ok, partial, failed, interrupted (killed: its heartbeat stopped)
    Column("status", String(20), nullable=False, index=True),
    Column("trigger", String(40), nullable=False, default="cli"),
    Column("sources", JSON, nullable=False),
    Column("stats", JSON, nullable=False),
    Column("host", String(255)),  # where it runs, and as which process: a dead pid on the
    Column("pid", Integer),  # same host is seen at once, elsewhere the heartbeat tells
    Column("heartbeat_at", TS),
    Column("resumed", JSON),  # the interrupted runs whose work this one took over
)

run_errors = Table(
    "run_errors", metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("source", String(100), nullable=False),
    Column("endpoint", String(300), nullable=False, default=""),
    Column("status_code", Integer),
    Column("code", String(100)),
    Column("field", String(200)),
    Column("message", Text, nullable=False),
    Column("at", TS, nullable=False),
    Column("step", String(20), nullable=False, server_default="pull"),  # pull, evaluate, email, push
    Column("reason", String(100)),  # what kind of failure, as summaries group them
    Column("learner", String(100)),  # a reference that is not personal data (learner id, award id)
    Column("count", Integer, nullable=False, server_default="1"),  # alike failures, one row
)

badges = Table(
    "badges", metadata,
    Column("id", String(200), primary_key=True),
    Column("version", String(64), nullable=False),
    Column("definition", JSON, nullable=False),
    Column("image", LargeBinary),
    Column("image_type", String(40)),
    Column("updated_at", TS, nullable=False),
)

awards = Table(
    "awards", metadata,
    Column("id", String(36), primary_key=True),
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="CASCADE"), nullable=False),
    Column("badge_id", String(200), ForeignKey("badges.id"), nullable=False, index=True),
    Column("period", String(40), nullable=False, default=""),
    Column("issued_at", TS, nullable=False),
    Column("expires_at", TS),
    Column("salt", String(64), nullable=False),
    Column("recipient_email", String(320)),
    Column("recipient_name", String(300)),
    Column("lang", String(8), nullable=False),
    Column("rule_version", String(64), nullable=False),
    Column("provenance", JSON, nullable=False),
    Column("status", String(20), nullable=False, default="issued"),  # issued, revoked
    Column("revoked_at", TS),
    Column("revocation_reason", Text),
    Column("previous_award_id", String(36), ForeignKey("awards.id")),
    Column("run_id", Integer),
    # The award email's Message-ID, chosen when the award is written: a re-send is the same
    # message, and the revocation and renewal emails answer it (In-Reply-To).
    Column("message_id", String(300)),
    UniqueConstraint("learner_id", "badge_id", "period", name="uq_awards_learner_badge_period"),
)

outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True),
    # email:<award>, revocation:<award>, renewal:<award>, push:<learner>:<session>:<target>
    Column("key", String(300), nullable=False, unique=True),
    Column("channel", String(40), nullable=False),  # email, push
    Column("award_id", String(36), ForeignKey("awards.id", ondelete="CASCADE")),
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="CASCADE")),
    Column("payload", JSON, nullable=False),
    Column("status", String(20), nullable=False),  # pending, sending, sent, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", TS, nullable=False),
    Column("lease_until", TS),
    Column("last_error", Text),
    Column("result", JSON),
    Column("created_at", TS, nullable=False),
    Column("sent_at", TS),
    Column("lease_run", Integer),  # the run holding the lease: an interrupted run's are freed
    Column("failure_reason", String(100)),  # the last failure's kind (smtp_unreachable, rejected…)
)

Index("ix_outbox_due", outbox.c.status, outbox.c.next_attempt_at)
Index("ix_facts_learner", facts.c.learner_id)

# OB 3.0 BitstringStatusList: one bit per award, allocated when the award is written.
ob3_status = Table(
    "ob3_status", metadata,
    Column("award_id", String(36), ForeignKey("awards.id", ondelete="CASCADE"), primary_key=True),
    Column("list_id", Integer, nullable=False),
    Column("list_index", Integer, nullable=False),
    UniqueConstraint("list_id", "list_index", name="uq_ob3_status_list_id"),
)
__all__ += ["ob3_status"]

# Learners whose facts changed and who await evaluation. A queue rather than a watermark:
# a run committing its facts late, while another run evaluates, is still evaluated.
pending_evaluations = Table(
    "pending_evaluations", metadata,
    Column("id", Integer, primary_key=True),
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", TS, nullable=False),
)

# Learners with a new presence or a new identity, whose presences the push routes have to see.
pending_pushes = Table(
    "pending_pushes", metadata,
    Column("id", Integer, primary_key=True),
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", TS, nullable=False),
)

# Learners erased on request (GDPR): a keyed HMAC of the email (the key is in the keys folder,
# bridge.store.erasure_key), so that the next sync does not import them again from the
# platforms, and nothing else about them. `keyed` is false for rows written before the HMAC,
# until the store rewrites them with its key.
erasures = Table(
    "erasures", metadata,
    Column("email_hash", String(64), primary_key=True),
    Column("erased_at", TS, nullable=False),
    Column("keyed", Boolean, nullable=False, server_default=false()),
)
__all__ += ["pending_evaluations", "pending_pushes", "erasures"]


# Meetup sessions and their check-ins (bridge.meetups). A check-in's presence is a fact of the
# session's source, written with it; the check-in row keeps how and when it was taken.
meetup_sessions = Table(
    "meetup_sessions", metadata,
    Column("id", String(100), primary_key=True),
    Column("source", String(100), nullable=False, index=True),
    Column("course", String(200), nullable=False),
    Column("title", String(300), nullable=False),
    Column("place", String(200), nullable=False),
    Column("town", String(100), nullable=False),
    Column("starts_at", TS, nullable=False),
    Column("ends_at", TS, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("origin", String(100), nullable=False),  # cli, config, or a platform source id
    Column("confirm", String(20), nullable=False),  # none, email
    Column("organiser_email", String(320)),
    Column("push_to", String(100)),
    Column("push_target", String(300)),
    Column("link_generation", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("closed_at", TS),
)

meetup_checkins = Table(
    "meetup_checkins", metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", String(100), ForeignKey("meetup_sessions.id", ondelete="CASCADE"),
           nullable=False),
    Column("email", String(320), nullable=False),
    Column("method", String(20), nullable=False),  # qr, organiser, sheet
    Column("status", String(20), nullable=False),  # present, pending, removed
    Column("device", String(64)),
    Column("created_at", TS, nullable=False),
    Column("confirmed_at", TS),
    UniqueConstraint("session_id", "email", name="uq_meetup_checkins_session_id"),
)
Index("ix_meetup_checkins_device", meetup_checkins.c.session_id, meetup_checkins.c.device)

# Fixed-window counters of the check-in page's rate limits: in the database, so that every
# web worker counts the same requests.
meetup_throttle = Table(
    "meetup_throttle", metadata,
    Column("key", String(200), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("expires_at", TS, nullable=False, index=True),
)
__all__ += ["meetup_sessions", "meetup_checkins", "meetup_throttle"]

# The web console: coordinators' accounts (argon2 hashes), their sessions (the cookie's hash and
# the session's CSRF token), failed logins per account and address, who did what, and each
# badge's rule versions as runs published them.
admin_accounts = Table(
    "admin_accounts", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("last_login_at", TS),
)

admin_sessions = Table(
    "admin_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie: a leak is no key
    Column("account_id", Integer, ForeignKey("admin_accounts.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False, index=True),
)

admin_login_failures = Table(
    "admin_login_failures", metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(400), nullable=False),  # a hash of account|address, account|*, *|address
    Column("at", TS, nullable=False),
    Index("ix_admin_login_failures_key_at", "key", "at"),
)

admin_audit = Table(
    "admin_audit", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", TS, nullable=False, index=True),
    Column("actor", String(100), nullable=False),
    Column("action", String(40), nullable=False),  # revoke, resend, erase, link_checkin, login…
    Column("target", String(400), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("address", String(64)),
)

rule_versions = Table(
    "rule_versions", metadata,
    Column("badge_id", String(200), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("first_seen_at", TS, nullable=False),
    Column("definition", JSON, nullable=False),
)
__all__ += ["admin_accounts", "admin_sessions", "admin_login_failures", "admin_audit", "rule_versions"]
