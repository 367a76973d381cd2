"""Email delivery: CPU per message of a run's delivery step beside a bare smtplib loop sending
the same bytes to the same real SMTP server (aiosmtpd, in a process of its own so that its CPU
is counted in neither). Prints one JSON object.

The delivery step does everything a run does for each email: lease a batch, read its awards,
build and bake the badge image, sign the learner's link, compose (spliced per badge and
language), send, mark the batch sent. `email_only` is the email's own part: the award's
documents ready, composed, sent, marked sent a batch at a time. The baseline is one SMTP
session and `sendmail()` of the bytes the delivery step sent.

    python bench/emails.py [--emails 1000] [--repeats 3] [--connections 1]
"""

from __future__ import annotations

import argparse
import smtplib
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import cpu, emit, make_awards, median, setup, wall
from sqlalchemy import update

from bridge.delivery.fastmail import shared_templates
from bridge.delivery.mail import AwardMail, Mailer, compose
from bridge.issuing.issuer import Issuer
from bridge.store.schema import outbox
from jobs.deliver import award_mail, deliver_emails

SERVER = """
import sys, time
from bridge.delivery.catcher import MailCatcher
c = MailCatcher(port=int(sys.argv[1]), keep=False).start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--connections", type=int, default=1)
    args = parser.parse_args()
    from bridge.web.server import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        with tempfile.TemporaryDirectory() as tmp:
            config, store = setup(Path(tmp), port=port, connections=args.connections)
            awards = make_awards(store, args.emails)
            sent: list[tuple[str, tuple[str, ...], bytes]] = []
            real = Mailer.send_bytes

            def keep(self: Mailer, from_addr: str, to_addrs: tuple[str, ...], data: bytes,
                     options: tuple[str, ...] = ()) -> None:
                if len(sent) < args.emails:
                    sent.append((from_addr, tuple(to_addrs), data))
                real(self, from_addr, to_addrs, data, options)

            def again() -> None:  # every email due again, outside the measure
                with store.engine.begin() as conn:
                    conn.execute(update(outbox).values(status="pending", attempts=0, lease_until=None,
                                                       next_attempt_at=datetime.now(UTC)))

            def ours() -> None:
                counts = deliver_emails(config, store)
                assert counts.sent == args.emails, counts

            def baseline() -> None:
                client = smtplib.SMTP(config.smtp.host, port)
                for from_addr, to_addrs, data in sent:
                    client.sendmail(from_addr, list(to_addrs), data)
                client.quit()

            Mailer.send_bytes = keep  # type: ignore[method-assign]
            ours()  # the first run: templates, keys and images warm, the bytes recorded
            Mailer.send_bytes = real  # type: ignore[method-assign]
            base_cpu, our_cpu, base_wall, our_wall = [], [], [], []
            for _ in range(args.repeats):
                again()
                started = time.perf_counter()
                our_cpu.append(cpu(ours))
                our_wall.append(time.perf_counter() - started)
                base_wall.append(wall(lambda: base_cpu.append(cpu(baseline))))
            # The email alone: the award's documents ready (image baked, links signed), then
            # composed (spliced), sent, and marked sent a batch at a time.
            issuer = Issuer(config, store, keep_badges=True)
            mails: list[AwardMail] = [award_mail(config, store, a, issuer) for a in awards]
            items = [i.id for i in store.outbox.items("email")]

            def email_only() -> None:
                templates = shared_templates(config.smtp)
                with Mailer(config.smtp) as mailer:
                    for start in range(0, n, 50):
                        for m in mails[start:start + 50]:
                            e = templates.envelope(m)
                            mailer.send_bytes(e.from_addr, e.to_addrs, e.data, e.options)
                        store.outbox.done_many([(i, {"message_id": "x"})
                                                for i in items[start:start + 50]])

            n = args.emails
            only_cpu = [cpu(email_only) for _ in range(args.repeats)]
            # For the record: the whole composition per message (compose() and its flattening).
            whole = median([cpu(lambda: [compose(m, config.smtp).as_bytes() for m in mails[:200]]) / 200
                            for _ in range(args.repeats)])
            store.close()
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)
    b, o, e = median(base_cpu) / n, median(our_cpu) / n, median(only_cpu) / n
    emit({"benchmark": "emails", "emails": n, "repeats": args.repeats,
          "connections": args.connections, "bytes_per_email": round(sum(len(d) for *_, d in sent) / n),
          "baseline_smtplib_cpu_ms_per_email": round(b * 1000, 3),
          "delivery_cpu_ms_per_email": round(o * 1000, 3),
          "cpu_vs_baseline": round(o / b, 2),
          "email_only_cpu_ms_per_email": round(e * 1000, 3),
          "email_only_cpu_vs_baseline": round(e / b, 2),
          "baseline_emails_per_second_wall": round(n / median(base_wall)),
          "delivery_emails_per_second_wall": round(n / median(our_wall)),
          "whole_composition_cpu_ms_per_email": round(whole * 1000, 3)})


if __name__ == "__main__":
    main()
