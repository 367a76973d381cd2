"""Step 5 of a run: deliver the email outbox (awards, revocations, renewal notices). Each item is
leased, sent, then marked sent.

Failures back off exponentially; a permanent refusal or too many attempts marks it failed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from bridge import i18n
from bridge.config import Config
from bridge.delivery.mail import AwardMail, Mailer, MailKind, compose
from bridge.errors import DeliveryError, NotFound
from bridge.issuing.issuer import Issuer
from bridge.issuing.ob2 import localized
from bridge.issuing.share import linkedin_url
from bridge.progress import Task
from bridge.store import Award, NewOutboxItem, OutboxItem, Store
from bridge.store.runs import Failures
from jobs.counts import Counts

__all__ = ["EmailStats", "deliver_emails", "award_mail", "backoff", "queue_renewal_notices"]

log = logging.getLogger("badge_bridge.deliver")


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 6 * 3600))


def award_mail(config: Config, store: Store, award: Award, issuer: Issuer | None = None,
               kind: MailKind = "award") -> AwardMail:
    """An email about one award, in the learner's language (else the config's default)."""
    issuer = issuer or Issuer(config, store)
    urls = issuer.urls
    badge = issuer.badge(award.badge_id)
    definition = badge.definition
    lang = i18n.negotiate([award.lang], config.bridge.default_language)
    svg = badge.image_type == "image/svg+xml"
    if award.recipient_email is None:
        raise NotFound(f"award {award.id}: its learner was erased")
    badge_name = localized(definition, "name", lang)
    verify_url = urls.verify_page(award.id)
    return AwardMail(
        kind=kind, award_id=award.id,
        # Awards written before Message-IDs were kept were sent with this one.
        message_id=award.message_id or f"<award-{award.id}@badge-bridge>",
        to_email=award.recipient_email,
        learner_name=None if config.bridge.hide_recipient_name else award.recipient_name,
        lang=lang, badge_name=badge_name,
        criteria=localized(definition, "criteria", lang) or localized(definition, "description", lang),
        issuer_name=config.issuer.name, issuer_url=config.issuer.url,
        issuer_email=config.issuer.email, verify_url=verify_url,
        issued_at=award.issued_at, expires_at=award.expires_at,
        image=issuer.baked(award, "ob2.svg" if svg else "ob2.png") if kind == "award" else None,
        image_subtype="svg+xml" if svg else "png",
        linkedin_url=linkedin_url(
            badge_name=badge_name, organization=config.issuer.name,
            organization_id=config.issuer.linkedin_organization_id, issued_at=award.issued_at,
            expires_at=award.expires_at, cert_url=verify_url, cert_id=award.id),
        wallet_url=urls.credential(award.id),
        name_choice_url=urls.name_choice(award.id, issuer.links.token(award.id)),
        reason=award.revocation_reason, renewable=bool(definition.get("renewable")))


def queue_renewal_notices(config: Config, store: Store, now: datetime | None = None) -> int:
    """A `renewal:<award>` email for each award expiring within `renewal_notice` days whose
    learner received it and that no later award renewed; once per award (the outbox key)."""
    days = config.bridge.renewal_notice
    if not days:
        return 0
    now = now or datetime.now(UTC)
    expiring = store.awards.expiring(now + timedelta(days=days), now)
    sent = {i.award_id for i in store.outbox.items("email", award_ids=[a.id for a in expiring])
            if i.kind == "award" and i.status == "sent"}
    return store.outbox.add([
        NewOutboxItem(key=f"renewal:{a.id}", channel="email", learner_id=a.learner_id,
                      award_id=a.id, payload={"award_id": a.id, "kind": "renewal"})
        for a in expiring if a.id in sent and a.recipient_email])


BATCH = 50  # leased together: sent well within the lease even by a slow mail server


@dataclass
class EmailStats(Counts):
    """Emails sent; waiting for a retry (`retry`: not delivered this run); failed for good;
    cancelled (the award was revoked or the learner erased before it left: not a failure)."""

    sent: int = 0
    retry: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def undelivered(self) -> int:
        return self.retry + self.failed


def deliver_emails(config: Config, store: Store, limit: int | None = None, *,
                   run_id: int = 0, progress: Task | None = None) -> EmailStats:
    """Send every due email (or at most `limit`) over one SMTP session; once the queue is
    empty, queue the renewal notices now due (of awards whose email has left) and send them.

    An email not delivered is recorded on run `run_id`, one line per reason with its count.
    Once the mail server cannot be reached, the rest of the claimed batch is put back (and
    counted alike) rather than each waiting out its own connection timeout."""
    counts = EmailStats()
    issuer = Issuer(config, store)
    notices_queued = False
    failures = Failures("email", "smtp", f"smtp://{config.smtp.host}:{config.smtp.port}")
    unreachable: DeliveryError | None = None
    with Mailer(config.smtp) as mailer:
        while (limit is None or limit > 0) and unreachable is None:
            items = store.outbox.claim("email", limit=BATCH if limit is None else min(limit, BATCH),
                                       run_id=run_id)
            if not items:
                if notices_queued or not queue_renewal_notices(config, store):
                    break
                notices_queued = True
                continue
            for item in items:
                if unreachable is not None:
                    _put_back(config, store, item, unreachable, failures)
                    counts.retry += 1
                    continue
                outcome, error = _deliver_one(config, store, issuer, mailer, item)
                counts += EmailStats(**{outcome: 1})
                if error is not None:
                    failures.add(error[0], error[1], item.award_id)
                    if error[0] == "smtp_unreachable":
                        unreachable = DeliveryError(error[1], reason="smtp_unreachable")
                if progress is not None:
                    progress.advance()
            if limit is not None:
                limit -= len(items)
    if run_id:
        failures.record(store.runs, run_id)
    return counts


def _put_back(config: Config, store: Store, item: OutboxItem, error: DeliveryError,
              failures: Failures) -> None:
    """An item not tried because the mail server is unreachable: queued again, not counted
    as an attempt."""
    store.outbox.retry(item.id, str(error), datetime.now(UTC) + backoff(max(1, item.attempts - 1)),
                       reason=error.reason)
    store.outbox.uncount(item.id)
    failures.add(error.reason, str(error), item.award_id)


Outcome = tuple[Literal["sent", "retry", "failed", "cancelled"], tuple[str, str] | None]


def _deliver_one(config: Config, store: Store, issuer: Issuer, mailer: Mailer,
                 item: OutboxItem) -> Outcome:
    """What became of one email, and when it was not delivered, (reason, message)."""
    award = store.awards.get(item.award_id or str(item.payload.get("award_id", "")))
    kind = item.kind
    if award is None or award.recipient_email is None:
        store.outbox.cancelled(item.id, "award erased before delivery")
        return "cancelled", None
    if (award.status == "revoked") != (kind == "revocation"):
        # An award revoked before its email or its renewal notice left: neither is sent.
        store.outbox.cancelled(item.id, "award revoked before delivery")
        return "cancelled", None
    if kind not in ("award", "revocation", "renewal"):
        store.outbox.failed(item.id, f"unknown email kind {kind!r}", reason="unknown_kind")
        return "failed", ("unknown_kind", f"unknown email kind {kind!r}")
    try:
        msg = compose(award_mail(config, store, award, issuer, kind),  # type: ignore[arg-type]
                      config.smtp, config.bridge.templates_dir)
        mailer.send(msg)
    except DeliveryError as exc:
        if not exc.retryable or item.attempts >= config.smtp.max_attempts:
            reason = exc.reason if not exc.retryable else "out_of_attempts"
            store.outbox.failed(item.id, str(exc), reason=reason)
            log.warning("email for award %s failed for good: %s", award.id, exc,
                        extra={"award": award.id, "reason": reason})
            return "failed", (reason, str(exc) if exc.retryable is False else
                              f"{exc} (after {item.attempts} attempts)")
        store.outbox.retry(item.id, str(exc), datetime.now(UTC) + backoff(item.attempts),
                           reason=exc.reason)
        return "retry", (exc.reason, str(exc))
    store.outbox.done(item.id, {"message_id": msg["Message-ID"]})
    return "sent", None
