"""Two web workers (two apps, two engines, one database, one keys folder): a code shown by one
is taken by the other, a ticket given by one is honoured by the other, the organiser's list read
from either shows every check-in, and the rate limits count the requests of both."""

from __future__ import annotations

import requests

from bridge.store import Store
from bridge.web.server import BackgroundServer, free_port


def test_two_workers_share_sessions_tickets_lists_and_limits(make_meetup, db_url, phone) -> None:
    first = make_meetup(db_url=db_url)
    port = free_port()
    other_store = Store(db_url)
    other = BackgroundServer(first.config, other_store, "127.0.0.1", port).start()
    second = f"http://127.0.0.1:{port}"
    try:
        session = first.session()
        p = phone()
        form = p.open(first.qr_url(session))  # scanned on the first worker
        assert form.status_code == 200
        csrf = p.csrf()
        action = f"{second}/m/{session.id}"
        p.post(action, email="a@example.org", step="email")  # typed on the second
        assert phone.outcome(p.post(action, email="a@example.org", step="confirm")) == "checked_in"
        organiser = first.organiser_url(session.id).replace(first.base, second)
        state = requests.get(f"{organiser}/state", timeout=30).json()
        assert [a["label"] for a in state["attendees"]] == ["a•••@e•••.org"]
        # the device limit holds whichever worker answers
        limit = first.desk.settings(session).device_limit
        codes = [p.http.post(f"{base}/m/{session.id}", data={"csrf": csrf, "email": "b@example.org",
                                                              "step": "email"}, timeout=30).status_code
                 for _ in range(limit) for base in (first.base, second)]
        assert codes.count(429) == len(codes) - (limit - 2)
    finally:
        other.stop()
        other_store.close()
