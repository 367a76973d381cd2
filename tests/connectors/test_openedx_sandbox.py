"""The `openedx` connector on the corrected sandbox, over HTTP: certificates that come later,
the throttle with and without the API key, a presence pushed and awarded in the same run, a
sign-in sheet and the platform naming one person, the switch-off push kept, honest counters."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.delivery.catcher import MailCatcher
from bridge.errors import FixableSourceError
from bridge.model import Attestation, FactKind
from bridge.store import Store
from connectors.http import HttpClient
from connectors.openedx import OpenEdxConfig, OpenEdxConnector
from connectors.registry import load as load_config
from jobs.push import deliver_pushes, enqueue_attestations
from jobs.run import run_sync
from sandbox import SandboxPlatform
from sandbox.edx_blocks import presence_block

from .conftest import FakeState

NOW = 1_760_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def make(sb: SandboxPlatform, sleep: Any = lambda s: None, **extra: Any) -> OpenEdxConnector:
    cfg = OpenEdxConfig(url=sb.base_url, client_id=sb.client_id, client_secret=sb.client_secret,
                        courses=sb.course_ids, **extra)
    return OpenEdxConnector("lms", cfg, http=HttpClient("lms", retries=8, backoff=0.0, sleep=sleep))


def pull(connector: OpenEdxConnector, state: FakeState) -> list[Any]:
    batches = list(connector.pull(state))
    for b in batches:
        state.keep(b)
        for f in b.facts:
            if f.kind == FactKind.certificate and f.value == 1.0:
                state.complete.setdefault((f.course, f.kind.value), set()).add(f.external_id)
    return [f for b in batches for f in b.facts]


def test_a_certificate_generated_after_passing_is_read_at_a_later_run() -> None:
    with SandboxPlatform("openedx", learners=40, seed=7, now=NOW, certificate_delay=3600) as sb:
        c, state = sb.world.courses[0], FakeState()
        pull(make(sb), state)
        u = next(x for x in sb.world.enrolled(c.id) if not x.progress[c.id].grade)
        u.progress[c.id].grade, u.progress[c.id].gradetime = 0.8, sb.world.now
        first = make(sb)
        seen_first = pull(first, state)
        sb.world.now += 3600  # the generation task ran
        later = make(sb)
        seen_later = pull(later, state)
        again = make(sb)
        pull(again, state)
    certs = [f for f in seen_later if f.kind == FactKind.certificate and f.external_id == u.username]
    assert not any(f.kind == FactKind.certificate and f.external_id == u.username for f in seen_first)
    assert first.http.by_endpoint["certificates/v0/certificates"] == 1
    assert [f.value for f in certs] == [1.0]
    assert again.http.by_endpoint["certificates/v0/certificates"] == 0  # held: not asked again


def test_a_learner_without_a_certificate_is_not_asked_after_the_wait() -> None:
    from datetime import timedelta

    with SandboxPlatform("openedx", learners=40, seed=7, now=NOW, auto_certificates=False) as sb:
        state = FakeState()
        first = make(sb)
        pull(first, state)
        waiting = first.http.by_endpoint["certificates/v0/certificates"]
        within, after = make(sb), make(sb, certificate_wait=timedelta(0))
        pull(within, state)
        pull(after, state)
    assert waiting > 0 and within.http.by_endpoint["certificates/v0/certificates"] == waiting
    assert after.http.by_endpoint["certificates/v0/certificates"] == 0


@pytest.mark.parametrize("with_key", [False, True])
def test_the_enrollment_list_waits_for_the_throttle_unless_the_api_key_comes_along(
        with_key: bool) -> None:
    clock = Clock()
    with SandboxPlatform("openedx", profile="scale", learners=450, seed=3, now=NOW,
                         clock=clock) as sb:
        sb.throttle.rates = {"user": 2, "staff": 2}  # a small minute, to see it at work
        c = make(sb, sleep=clock.sleep, **({"api_key": sb.api_key} if with_key else {}))
        state = FakeState()
        facts = pull(c, state)
        refused = sb.throttle.refused
    enrolled = {f.external_id for f in facts if f.kind == FactKind.enrolment}
    assert not state.errors and len(enrolled) == 450
    assert c.http.by_endpoint["enrollment/v1/enrollments"] == math.ceil(450 / 100) + refused
    assert (refused == 0) if with_key else (refused >= 1 and clock.now >= 60)


def rules(folder: Path, course: str, block: str) -> Path:
    folder.mkdir()
    (folder / "presence.toml").write_text(f'''[badge]
id = "rencontre"
name = {{ fr = "Présent à la rencontre", en = "Attended the meetup" }}
description = {{ fr = "Présence attestée.", en = "Attested presence." }}

[condition]
activity_completed = {{ source = "lms", course = "{course}", activity = "{block}" }}
''', encoding="utf-8")
    return folder


def write_config(tmp_path: Path, sb: SandboxPlatform, smtp: int, sheet: Path, target: str) -> Path:
    c = sb.world.courses[0]
    path = tmp_path / "bridge.toml"
    path.write_text(f'''[bridge]
data_dir = "{tmp_path / 'state'}"
rules_dir = "{rules(tmp_path / 'rules', c.key, presence_block(c))}"

[smtp]
port = {smtp}

[sources.lms]
kind = "openedx"
url = "{sb.base_url}"
client_id = "{sb.client_id}"
client_secret = "{sb.client_secret}"
courses = ["{c.key}"]
blocks = ["{presence_block(c)}"]
retries = 2
backoff = 0.0

[sources.sheets]
kind = "csv"
path = "{sheet}"

[[sources.sheets.push]]
to = "lms"
course = "{c.key}"
target = "{target}"
''', encoding="utf-8")
    return path


@pytest.fixture
def mailbox() -> Iterator[MailCatcher]:
    catcher = MailCatcher(keep=False).start()
    yield catcher
    catcher.stop()


def sheet_of(tmp_path: Path, emails: list[str]) -> Path:
    path = tmp_path / "sheet.csv"
    path.write_text("email,session,date,status\n" + "".join(
        f"{e},meetup-1,2025-10-11,present\n" for e in emails), encoding="utf-8")
    return path


def test_a_presence_pushed_to_the_platform_is_awarded_in_the_same_run(tmp_path: Path,
                                                                     mailbox: MailCatcher) -> None:
    """The sheet says present; the push completes the staff-graded block; the read-back of the
    learner's tree stores that completion; the badge that needs it is issued in that run."""
    with SandboxPlatform("openedx", learners=40, seed=7, now=NOW) as sb:
        c = sb.world.courses[0]
        fresh = [u for u in sb.world.enrolled(c.id) if u.email
                 and not sb.world.activity_completed(u, c, 503)][:3]
        config = load_config(write_config(tmp_path, sb, mailbox.port,
                                          sheet_of(tmp_path, [u.email for u in fresh]),
                                          f"block:{presence_block(c)}"))
        store = Store(config.bridge.db_url)
        report = run_sync(config, store)
        done_on_platform = {u.email for u in fresh if sb.world.activity_completed(u, c, 503)}
        awarded_before = {u.email for u in sb.world.enrolled(c.id)
                          if u.email and u not in fresh and sb.world.activity_completed(u, c, 503)}
    awarded = {a.email for a in store.awards.listing()}
    assert report.pushes.sent == 3 and done_on_platform == {u.email for u in fresh}
    assert awarded == awarded_before | done_on_platform
    learners = store.counts()["learners"]
    assert learners == len({u.email for u in sb.world.enrolled(c.id)} - {""}) + \
        sum(1 for u in sb.world.enrolled(c.id) if not u.email)  # the sheet added nobody


def test_an_html_push_target_is_refused_when_the_config_loads(tmp_path: Path) -> None:
    from bridge.errors import ConfigError

    with SandboxPlatform("openedx", learners=5, seed=3) as sb:
        c = sb.world.courses[0]
        html = presence_block(c).replace("staffgradedxblock", "html")
        path = write_config(tmp_path, sb, 25, sheet_of(tmp_path, []), f"block:{html}")
        with pytest.raises(ConfigError, match="simply viewing it") as exc:
            load_config(path)
    target_line = path.read_text().splitlines().index(f'target = "block:{html}"') + 1
    assert exc.value.key == "sources.sheets.push[0].target" and exc.value.line == target_line


def test_a_push_refused_for_the_completion_switch_is_kept_for_retry(tmp_path: Path) -> None:
    with SandboxPlatform("openedx", learners=40, seed=7, now=NOW, completion_tracking=False) as sb:
        c = sb.world.courses[0]
        u = next(x for x in sb.world.enrolled(c.id) if x.email
                 and not sb.world.activity_completed(x, c, 503))
        connector = make(sb)
        with pytest.raises(FixableSourceError, match="completion.enable_completion_tracking"):
            connector.push(Attestation(source="lms", external_id=u.username, username=u.username,
                                       course=c.key, session="s", target=f"block:{presence_block(c)}"))
        config = load_config(write_config(tmp_path, sb, 25, sheet_of(tmp_path, [u.email]),
                                          f"block:{presence_block(c)}"))
        store = Store(config.bridge.db_url)
        run_sync(config, store, steps=("pull",))
        enqueue_attestations(config, store)
        stats = deliver_pushes(config, store)
    item = store.outbox.items("push")[0]
    assert stats.refused == 1 and item.status == "pending"  # kept until fixed
    assert "completion.enable_completion_tracking" in (item.last_error or "")
    assert sb.pushes == []


def test_counters_tell_the_learners_without_email_at_every_run(tmp_path: Path) -> None:
    with SandboxPlatform("openedx", learners=40, seed=7, now=NOW) as sb:
        config = load_config(write_config(tmp_path, sb, 25, sheet_of(tmp_path, []),
                                          f"block:{presence_block(sb.world.courses[0])}"))
        store = Store(config.bridge.db_url)
        first = run_sync(config, store, steps=("pull",)).sources["lms"]
        second = run_sync(config, store, steps=("pull",)).sources["lms"]
        without = sum(1 for u in sb.world.learners if not u.email)
    assert without == 2
    assert first.learners_without_email == second.learners_without_email == without
    assert second.new_learners == 0


def test_a_missing_aggregator_leaves_the_run_ok_with_a_warning(tmp_path: Path) -> None:
    with SandboxPlatform("openedx", learners=10, seed=3, now=NOW, aggregator=False) as sb:
        config = load_config(write_config(tmp_path, sb, 25, sheet_of(tmp_path, []),
                                          f"block:{presence_block(sb.world.courses[0])}"))
        report = run_sync(config, Store(config.bridge.db_url), steps=("pull",))
    assert report.status == "ok" and report.errors == []
    assert ["completion-aggregator is not installed" in w
            for w in report.sources["lms"].warnings] == [True]
