"""Step 5 of a run: deliver the email outbox. Each item is leased, sent, then marked sent.

Failures back off exponentially; a permanent refusal or too many attempts marks it failed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.config import Config
from bridge.delivery.mail import AwardMail, compose, send
from bridge.errors import DeliveryError
from bridge.issuing import ob2
from bridge.issuing.bake import bake_png
from bridge.issuing.urls import Urls
from bridge.store import OutboxItem, Store

__all__ = ["deliver_emails", "award_mail", "backoff"]

log = logging.getLogger("badge_bridge.deliver")


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 6 * 3600))


def award_mail(config: Config, store: Store, award: dict[str, Any]) -> AwardMail:
    urls = Urls(config.bridge.public_url)
    badge = store.badge(award["badge_id"])
    assert badge is not None, award["badge_id"]
    lang = award["lang"]
    definition = badge["definition"]

    def text(field: str) -> str:
        values = definition.get(field) or {}
        return values.get(lang) or next(iter(values.values()), "")

    baked = bake_png(badge["image"], ob2.assertion(urls, award))
    return AwardMail(
        award_id=award["id"], to_email=award["recipient_email"], learner_name=award["recipient_name"],
        lang=lang, badge_name=text("name"), criteria=text("criteria") or text("description"),
        issuer_name=config.issuer.name, issuer_url=config.issuer.url,
        verify_url=urls.verify_page(award["id"]), baked_png=baked,
        issued_year=award["issued_at"].year, issued_month=award["issued_at"].month)


def deliver_emails(config: Config, store: Store, limit: int = 1000) -> dict[str, int]:
    counts = {"sent": 0, "retry": 0, "failed": 0}
    while True:
        items = store.claim_due("email", limit=min(limit, 200))
        if not items:
            return counts
        for item in items:
            counts[_deliver_one(config, store, item)] += 1
        limit -= len(items)
        if limit <= 0:
            return counts


def _deliver_one(config: Config, store: Store, item: OutboxItem) -> str:
    award = store.award(item.payload["award_id"])
    if award is None or award["status"] == "revoked":
        store.outbox_failed(item.id, "award revoked or erased before delivery")
        return "failed"
    try:
        msg = compose(award_mail(config, store, award), config.smtp, config.bridge.templates_dir)
        send(msg, config.smtp)
    except DeliveryError as exc:
        if not exc.retryable or item.attempts >= config.smtp.max_attempts:
            store.outbox_failed(item.id, str(exc))
            log.warning("email for award %s failed for good: %s", award["id"], exc)
            return "failed"
        store.outbox_retry(item.id, str(exc), datetime.now(UTC) + backoff(item.attempts))
        return "retry"
    store.outbox_done(item.id, {"message_id": msg["Message-ID"]})
    return "sent"
