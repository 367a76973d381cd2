"""Step 5 of a run: deliver the email outbox (awards, revocations, renewal notices). A batch of
items is leased, composed, sent, then marked sent in one transaction.

Failures back off exponentially; a permanent refusal or too many attempts marks it failed.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from bridge import i18n
from bridge.config import Config, SmtpSettings
from bridge.delivery.fastmail import Envelope, MailTemplates, shared_templates
from bridge.delivery.mail import AwardMail, Mailer, MailKind, message_id
from bridge.errors import DeliveryError, NotFound, SourceError, raised_at
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
    """Send every due email (or at most `limit`) over `[smtp] connections` SMTP sessions; once
    the queue is empty, queue the renewal notices now due (of awards whose email has left) and
    send them.

    A batch is leased, composed (templates per badge and language, spliced per award), sent,
    and its sent items are marked in one transaction; each message fails or retries alone.
    An email not delivered is recorded on run `run_id`, one line per reason with its count.
    Once the mail server cannot be reached, the rest of the claimed batch is put back (and
    counted alike) rather than each waiting out its own connection timeout.
    An email that cannot be composed fails alone, recorded on the run with its award."""
    counts = EmailStats()
    issuer = Issuer(config, store, keep_badges=True)
    templates = shared_templates(config.smtp, config.bridge.templates_dir)
    notices_queued = False
    failures = Failures("email", "smtp", f"smtp://{config.smtp.host}:{config.smtp.port}")
    unreachable: list[DeliveryError] = []
    with _Senders(config.smtp) as senders:
        while (limit is None or limit > 0) and not unreachable:
            items = store.outbox.claim("email", limit=BATCH if limit is None else min(limit, BATCH),
                                       run_id=run_id)
            if not items:
                if notices_queued or not queue_renewal_notices(config, store):
                    break
                notices_queued = True
                continue
            for outcome in _deliver_batch(config, store, issuer, templates, senders, items,
                                          failures, unreachable, run_id):
                counts += EmailStats(**{outcome: 1})
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


Outcome = Literal["sent", "retry", "failed", "cancelled"]
NOT_SENT = DeliveryError("not sent", reason="not_tried")  # a message of a batch not tried
Sent = DeliveryError | None


def _deliver_batch(config: Config, store: Store, issuer: Issuer, templates: MailTemplates,
                   senders: _Senders, items: list[OutboxItem], failures: Failures,
                   unreachable: list[DeliveryError], run_id: int = 0) -> list[Outcome]:
    """What became of each email of a leased batch; `unreachable` gets the error that showed
    the mail server unreachable, if one did."""
    awards = store.awards.get_many(i.award_id or str(i.payload.get("award_id", "")) for i in items)
    outcomes: list[Outcome] = []
    ready: list[tuple[OutboxItem, str, Envelope | DeliveryError]] = []
    now = datetime.now(UTC)
    for item in items:
        award = awards.get(item.award_id or str(item.payload.get("award_id", "")))
        if award is None or award.recipient_email is None:
            store.outbox.cancelled(item.id, "award erased before delivery")
            outcomes.append("cancelled")
            continue
        if (award.status == "revoked") != (item.kind == "revocation"):
            # An award revoked before its email or its renewal notice left: neither is sent.
            store.outbox.cancelled(item.id, "award revoked before delivery")
            outcomes.append("cancelled")
            continue
        if item.kind not in ("award", "revocation", "renewal"):
            store.outbox.failed(item.id, f"unknown email kind {item.kind!r}", reason="unknown_kind")
            failures.add("unknown_kind", f"unknown email kind {item.kind!r}", item.award_id)
            outcomes.append("failed")
            continue
        try:
            mail = award_mail(config, store, award, issuer, item.kind)  # type: ignore[arg-type]
            ready.append((item, message_id(mail), templates.envelope(mail, now)))
        except DeliveryError as exc:  # not one address: refused as the mail server would be
            ready.append((item, "", exc))
        except Exception as exc:  # this email alone: the rest of the batch, and the run, go on
            where = f"{type(exc).__name__} at {raised_at(exc)}"
            store.outbox.failed(item.id, f"cannot be composed: {where}", reason="compose")
            log.error("email for award %s cannot be composed: %s", award.id, where)
            if run_id:  # its own line: the place is this award
                store.runs.record_error(run_id, SourceError(
                    f"the {item.kind} email cannot be composed ({where}); the other emails were sent",
                    source="email", endpoint=f"award {award.id}", code="compose"),
                    step="email", reason="compose", learner=award.id)
            outcomes.append("failed")
    results: list[Sent] = [e if isinstance(e, DeliveryError) else NOT_SENT for _, _, e in ready]
    try:
        senders.send([e if isinstance(e, Envelope) else None for _, _, e in ready], results)
    finally:  # stopped while sending: what left is marked, so that it never leaves twice
        store.outbox.done_many([(item.id, {"message_id": msgid})
                                for (item, msgid, _), error in zip(ready, results, strict=True)
                                if error is None])
    stopped = next((e for e in results if e is not None and e is not NOT_SENT
                    and e.reason == "smtp_unreachable"), None)
    if stopped is not None and not unreachable:
        unreachable.append(stopped)  # the session that met it left the rest of its share
    for (item, _, _), error in zip(ready, results, strict=True):
        if error is None:
            outcomes.append("sent")
        elif error is NOT_SENT:  # after the server was found unreachable: put back
            _put_back(config, store, item, unreachable[0], failures)
            outcomes.append("retry")
        elif not error.retryable or item.attempts >= config.smtp.max_attempts:
            reason = error.reason if not error.retryable else "out_of_attempts"
            store.outbox.failed(item.id, str(error), reason=reason)
            log.warning("email for award %s failed for good: %s", item.award_id, error,
                        extra={"award": item.award_id, "reason": reason})
            failures.add(reason, str(error) if not error.retryable else
                         f"{error} (after {item.attempts} attempts)", item.award_id)
            outcomes.append("failed")
        else:
            store.outbox.retry(item.id, str(error), datetime.now(UTC) + backoff(item.attempts),
                               reason=error.reason)
            failures.add(error.reason, str(error), item.award_id)
            outcomes.append("retry")
    return outcomes


class _Senders:
    """`[smtp] connections` SMTP sessions, each kept open across batches; a batch is shared
    among them (one thread a session: sending waits on the server, not on the CPU). A session
    that finds the server unreachable stops: the messages it had left are not tried."""

    def __init__(self, smtp: SmtpSettings) -> None:
        self.mailers = [Mailer(smtp) for _ in range(smtp.connections)]
        self.pool = ThreadPoolExecutor(len(self.mailers), thread_name_prefix="smtp") \
            if len(self.mailers) > 1 else None

    def __enter__(self) -> _Senders:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown()
        for mailer in self.mailers:
            mailer.close()

    def send(self, envelopes: list[Envelope | None], results: list[Sent]) -> None:
        """Send each message (None: none to send); `results[i]` becomes None once message i has
        left, else its error."""
        def run(mailer: Mailer, share: range) -> None:
            for i in share:
                e = envelopes[i]
                if e is None:
                    continue
                try:
                    mailer.send_bytes(e.from_addr, e.to_addrs, e.data, e.options)
                    results[i] = None
                except DeliveryError as exc:
                    results[i] = exc
                    if exc.reason == "smtp_unreachable":
                        return

        n = len(self.mailers)
        if self.pool is None or len(envelopes) < 2:
            run(self.mailers[0], range(len(envelopes)))
        else:
            for future in [self.pool.submit(run, self.mailers[k], range(k, len(envelopes), n))
                           for k in range(n)]:
                future.result()
