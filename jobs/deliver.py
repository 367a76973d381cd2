"""Step 5 of a run: deliver the email outbox. Each item is leased, sent, then marked sent.

Failures back off exponentially; a permanent refusal or too many attempts marks it failed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from bridge import i18n
from bridge.config import Config
from bridge.delivery.mail import AwardMail, Mailer, compose
from bridge.errors import DeliveryError, NotFound
from bridge.issuing.issuer import Issuer
from bridge.issuing.ob2 import localized
from bridge.store import Award, OutboxItem, Store
from jobs.counts import Counts

__all__ = ["EmailStats", "deliver_emails", "award_mail", "backoff"]

log = logging.getLogger("badge_bridge.deliver")


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 6 * 3600))


def award_mail(config: Config, store: Store, award: Award,
               issuer: Issuer | None = None) -> AwardMail:
    """The mail of one award, in the learner's language (else the config's default)."""
    issuer = issuer or Issuer(config, store)
    urls = issuer.urls
    badge = issuer.badge(award.badge_id)
    definition = badge.definition
    lang = i18n.negotiate([award.lang], config.bridge.default_language)
    svg = badge.image_type == "image/svg+xml"
    if award.recipient_email is None:
        raise NotFound(f"award {award.id}: its learner was erased")
    return AwardMail(
        award_id=award.id, to_email=award.recipient_email,
        learner_name=None if config.bridge.hide_recipient_name else award.recipient_name,
        lang=lang, badge_name=localized(definition, "name", lang),
        criteria=localized(definition, "criteria", lang) or localized(definition, "description", lang),
        issuer_name=config.issuer.name, issuer_url=config.issuer.url,
        verify_url=urls.verify_page(award.id),
        baked_png=issuer.baked(award, "ob2.svg" if svg else "ob2.png"),
        image_subtype="svg+xml" if svg else "png",
        issued_year=award.issued_at.year, issued_month=award.issued_at.month,
        expires_at=award.expires_at,
        wallet_url=urls.credential(award.id))


BATCH = 50  # leased together: sent well within the lease even by a slow mail server


@dataclass
class EmailStats(Counts):
    sent: int = 0
    retry: int = 0
    failed: int = 0


def deliver_emails(config: Config, store: Store, limit: int | None = None) -> EmailStats:
    """Send every due email (or at most `limit`) over one SMTP session."""
    counts = EmailStats()
    issuer = Issuer(config, store)
    with Mailer(config.smtp) as mailer:
        while limit is None or limit > 0:
            items = store.outbox.claim("email", limit=BATCH if limit is None else min(limit, BATCH))
            if not items:
                break
            for item in items:
                counts += EmailStats(**{_deliver_one(config, store, issuer, mailer, item): 1})
            if limit is not None:
                limit -= len(items)
    return counts


def _deliver_one(config: Config, store: Store, issuer: Issuer, mailer: Mailer,
                 item: OutboxItem) -> Literal["sent", "retry", "failed"]:
    award = store.awards.get(item.award_id or "")
    if award is None or award.status == "revoked":
        store.outbox.failed(item.id, "award revoked or erased before delivery")
        return "failed"
    try:
        msg = compose(award_mail(config, store, award, issuer), config.smtp, config.bridge.templates_dir)
        mailer.send(msg)
    except DeliveryError as exc:
        if not exc.retryable or item.attempts >= config.smtp.max_attempts:
            store.outbox.failed(item.id, str(exc))
            log.warning("email for award %s failed for good: %s", award.id, exc)
            return "failed"
        store.outbox.retry(item.id, str(exc), datetime.now(UTC) + backoff(item.attempts))
        return "retry"
    store.outbox.done(item.id, {"message_id": msg["Message-ID"]})
    return "sent"
