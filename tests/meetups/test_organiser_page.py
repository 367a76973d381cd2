"""The organiser's page over HTTP: the rotating QR code decodes to a check-in URL that works,
the live state says who checked in (masked), adding, removing and closing need the form token,
and a link replaced by `meetups link`, forged or expired stops working."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import requests

from bridge.meetups.desk import mask_email


class Organiser:
    """The organiser's laptop: its cookies, and the forms of the page it shows."""

    def __init__(self, url: str) -> None:
        self.url, self.http = url, requests.Session()
        self.page = self.http.get(url, timeout=30)
        self.token = ""

    def csrf(self) -> str:
        """The form token of the last page that had forms."""
        found = re.search(r'name="csrf" value="([^"]+)"', self.page.text)
        self.token = found.group(1) if found else self.token
        return self.token

    def post(self, action: str, csrf: str | None = None, **fields: str) -> requests.Response:
        answer = self.http.post(f"{self.url}/{action}", data={"csrf": self.csrf() if csrf is None
                                                                else csrf, **fields}, timeout=30)
        self.page = answer
        return answer

    def state(self) -> dict:
        return self.http.get(f"{self.url}/state", timeout=30).json()


def test_the_page_shows_the_session_and_a_qr_code_that_checks_in(meetup, phone) -> None:
    session = meetup.session()
    organiser = Organiser(meetup.organiser_url(session.id))
    assert organiser.page.status_code == 200 and 'id="qr"' in organiser.page.text
    assert [s for s in re.findall(r"<script[^>]*>", organiser.page.text)] == [
        f'<script src="{meetup.base}/static/meetups-organiser.js" defer>']
    assert "style=" not in organiser.page.text and "<style" not in organiser.page.text
    svg = organiser.http.get(f"{organiser.url}/qr.svg", timeout=30)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.headers["cache-control"] == "no-store"
    url = meetup.desk.checkin_url(session, datetime.now(UTC))
    assert phone.outcome(phone().check_in(url, "camille.martin@example.org")) == "checked_in"
    state = organiser.state()
    assert state["count"] == 1 and state["state"] == "open"
    [person] = state["attendees"]
    assert person["label"] == mask_email("camille.martin@example.org") == "ca•••@e•••.org"
    assert "camille.martin@example.org" not in organiser.http.get(organiser.url, timeout=30).text


def test_the_state_answers_304_until_someone_checks_in(meetup, phone) -> None:
    session = meetup.session()
    organiser = Organiser(meetup.organiser_url(session.id))
    first = organiser.http.get(f"{organiser.url}/state", timeout=30)
    again = organiser.http.get(f"{organiser.url}/state", headers={"If-None-Match": first.headers["etag"]},
                               timeout=30)
    assert again.status_code == 304 or first.json()["window"] != meetup.desk.tokens.window(datetime.now(UTC))
    phone().check_in(meetup.qr_url(session), "a@example.org")
    changed = organiser.http.get(f"{organiser.url}/state", headers={"If-None-Match": first.headers["etag"]},
                                 timeout=30)
    assert changed.status_code == 200 and changed.json()["count"] == 1


def test_add_remove_and_close_with_the_form_token(meetup, phone) -> None:
    session = meetup.session()
    organiser = Organiser(meetup.organiser_url(session.id))
    added = organiser.post("add", email="Dominique@Example.org")
    assert added.status_code == 200 and 'id="notice"' in added.text
    [entry] = meetup.store.meetups.checkins(session.id)
    assert (entry.email, entry.method, entry.status) == ("dominique@example.org", "organiser", "present")
    assert organiser.post("add", email="not an address").url.endswith("notice=invalid_email")
    # without the page's token (another site's form), nothing happens
    assert organiser.post("add", csrf="", email="forged@example.org").status_code == 403
    outsider = requests.post(f"{organiser.url}/add", data={"csrf": organiser.csrf(),
                                                           "email": "outsider@example.org"}, timeout=30)
    assert outsider.status_code == 403  # a token bound to the organiser's device cookie
    assert [c.email for c in meetup.store.meetups.checkins(session.id)] == ["dominique@example.org"]
    removed = organiser.post("remove", checkin=str(entry.id))
    assert removed.url.endswith("notice=removed")
    assert meetup.store.meetups.checkins(session.id) == []
    learner = meetup.store.facts.learner_by_email("dominique@example.org")
    [fact] = meetup.store.facts.of_learners([learner.id])[learner.id]
    assert fact.value == 0.0  # the presence no longer counts
    closed = organiser.post("close")
    assert closed.url.endswith("notice=closed") and 'id="close"' not in closed.text
    assert meetup.store.meetups.get(session.id).closed_at is not None
    assert organiser.state()["state"] == "closed"
    assert phone.outcome(phone().open(meetup.qr_url(session))) == "closed"
    assert organiser.post("add", email="late@example.org").url.endswith("notice=closed")


def test_a_replaced_forged_or_expired_link_stops_working(meetup) -> None:
    session = meetup.session()
    old = meetup.organiser_url(session.id)
    assert requests.get(old, timeout=30).status_code == 200
    meetup.store.meetups.new_link(session.id)
    new = meetup.organiser_url(session.id)
    assert new != old
    for url in (old, f"{old}/state", f"{old}/qr.svg", old[:-3] + "abc"):
        answer = requests.get(url, timeout=30)
        assert answer.status_code == 403 and 'data-reason="no_link"' in answer.text, url
    keeper = Organiser(new)
    csrf = keeper.csrf()
    assert keeper.page.status_code == 200
    assert requests.post(f"{old}/close", data={"csrf": csrf}, timeout=30).status_code == 403
    assert meetup.store.meetups.get(session.id).closed_at is None
    ended = meetup.session(start=datetime.now(UTC) - timedelta(hours=30), hours=2)
    assert requests.get(meetup.organiser_url(ended.id), timeout=30).status_code == 403


def test_names_and_places_with_markup_are_text_on_the_organisers_page(meetup, phone) -> None:
    from bridge.model import Batch, Identity

    session = meetup.session(title="<b>Atelier</b>", place="<script>alert(1)</script>")
    meetup.store.facts.ingest(1, Batch(identities=[Identity("lms", "1", email="x@example.org",
                                                            fullname="<img src=x onerror=alert(1)>")]))
    phone().check_in(meetup.qr_url(session), "x@example.org")
    organiser = Organiser(meetup.organiser_url(session.id))
    text = organiser.page.text
    assert "<img src=x" not in text and "<script>alert" not in text and "<b>Atelier" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert organiser.state()["attendees"][0]["label"] == "<img src=x onerror=alert(1)>"  # JSON: text


def test_the_sheet_prints_and_its_csv_comes_back_through_presence_import(meetup, tmp_path) -> None:
    from click.testing import CliRunner

    from cli import main

    session = meetup.session()
    organiser = Organiser(meetup.organiser_url(session.id))
    sheet = organiser.http.get(f"{organiser.url}/sheet", timeout=30)
    assert sheet.status_code == 200 and sheet.text.count("<tr>") == 26
    csv_text = organiser.http.get(f"{organiser.url}/sheet.csv?lang=fr", timeout=30).content.decode("utf-8-sig")
    lines = csv_text.splitlines()
    assert lines[0] == "Séance;Titre;Lieu;Date;Nom et prénom;Courriel;Présent·e"
    lines[1] = lines[1].replace(";;;", ";Camille Martin;camille@example.org;x")
    lines[2] = lines[2].replace(";;;", ";Alex Petit;alex@example.org;absent")
    filled = tmp_path / "filled.csv"
    filled.write_text("\n".join(lines), encoding="utf-8")
    result = CliRunner().invoke(main, ["presence", "import", str(filled), "--source", "rencontres",
                                       "--config", str(meetup.config.file)])
    assert result.exit_code == 0, result.output
    [checkin] = meetup.store.meetups.checkins(session.id)
    assert (checkin.email, checkin.method) == ("camille@example.org", "sheet")
    lines[3] = lines[3].replace(session.id, "no-such-session").replace(";;;", ";X;x@example.org;x")
    filled.write_text("\n".join(lines), encoding="utf-8")
    refused = CliRunner().invoke(main, ["presence", "import", str(filled), "--source", "rencontres",
                                        "--config", str(meetup.config.file)])
    assert refused.exit_code == 1 and "no-such-session" in refused.output
    assert len(meetup.store.meetups.checkins(session.id)) == 1  # nothing of the refused sheet
