"""Hostile inputs of each kind badge-bridge takes in, and what it must do with each: process it,
or refuse it with a BridgeError (a sheet's row problems, a config or rule error, a source error,
a 4xx answer) — never a traceback, a 5xx, or a record half-written.

Each `Kind` mutates valid seeds with a seeded `random.Random` (so a failing case is replayed by
its seed) and runs one case: `"ok"` (processed), `"refused"` (refused cleanly) or raises (a crash).
`chaos/fuzz.py` runs thousands per kind; the suite runs a bounded Hypothesis version
(tests/security/test_inputs.py).
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from bridge.errors import BridgeError, RuleError, SourceError
from bridge.model import Batch, Identity
from bridge.store import Store

__all__ = ["KINDS", "Kind", "Outcome", "NASTY", "mutate_text", "mutate_json"]

Outcome = str  # "ok" | "refused" | "unplaced" (refused by an error naming no line)
REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "moodle"

# What an attacker or an unlucky operator puts in a field.
NASTY: list[str] = [
    "\r\n", "\r", "\n", "\x00", "\x1b[31m", "\u2028", "\ufeff", "\ud7ff", "é", "𝔘𝔫𝔦", "\u202e",
    '"', "'", ",", ";", "\t", "\\", "=", "[", "]", "{", "}", "[[", "]]", "#",
    "x4+<svg/onload=alert(1)>@example.org", "a@example.org, b@example.org", "<script>alert(1)</script>",
    "0001-01-01", "9999-12-31", "31/12/9999", "29/02/2023", "2026-13-45", "1/1/1", "00/00/0000",
    "2026-03-01T25:61", "-1", "0", "1e309", "NaN", "inf", "99999999999999999999999", "true",
    "{ env = 1 }", "{ file = 3 }", '{ env = "" }', '["moodle"]', "{}", "[]", '""',
    "A" * 300, "B" * 5000, "%s%n", "${HOME}", "../../etc/passwd", "C:\\\\nul",
]


def mutate_text(rng: random.Random, text: str, extra: list[str] | None = None) -> str:
    """One to four mutations of `text`: nasty tokens inserted or substituted, slices cut or
    doubled, line endings changed, a huge cell, deep nesting."""
    tokens = NASTY + (extra or [])
    for _ in range(rng.randint(1, 4)):
        n = len(text)
        i, j = sorted((rng.randint(0, n), rng.randint(0, n)))
        op = rng.randrange(10)
        if op == 0:
            text = text[:i] + rng.choice(tokens) + text[i:]
        elif op == 1:
            text = text[:i] + rng.choice(tokens) + text[j:]
        elif op == 2:
            text = text[:i] + text[j:]
        elif op == 3:
            text = text[:j] + text[i:j] + text[j:]
        elif op == 4:
            text = text.replace("\n", rng.choice(["\r", "\r\n", "\n\n", "\u2028", ""]))
        elif op == 5:
            text = text[:i] + "x" * rng.choice([131_073, 200_000, 1000]) + text[i:]
        elif op == 6:
            depth = rng.choice([10, 40, 300, 1000])
            text = text[:i] + "[" * depth + "1" + "]" * depth + text[i:]
        elif op == 7:
            depth = rng.choice([10, 40, 300, 1000])
            text = text[:i] + "{a=" * depth + "1" + "}" * depth + text[i:]
        elif op == 8:
            text = text[:i] + "".join(chr(rng.randint(0, 0x2FF)) for _ in range(rng.randint(1, 8))) + text[j:]
        else:
            lines = text.split("\n")
            if lines:
                k = rng.randrange(len(lines))
                lines.insert(k, lines[k])
            text = "\n".join(lines)
    return text


_LEAVES: list[Any] = [None, 0, -1, 10**13, -(10**15), 10**30, 1.5, float("nan"), float("inf"),
                      True, "", "x" * 400, "a\r\nb", "\x00", [], {}, "not-a-number", 2**63, -(2**63)]


def _paths(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) of a JSON document, iteratively."""
    out: list[tuple[Any, Any]] = []
    todo = [doc]
    while todo:
        node = todo.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
        for k in keys:
            out.append((node, k))
            todo.append(node[k])
    return out


def mutate_json(rng: random.Random, doc: Any) -> Any:
    """`doc` with one to three leaves replaced by hostile values, keys deleted, or lists doubled."""
    doc = json.loads(json.dumps(doc))
    for _ in range(rng.randint(1, 3)):
        paths = _paths(doc)
        if not paths:
            return rng.choice(_LEAVES + NASTY)
        parent, key = rng.choice(paths)
        op = rng.randrange(4)
        if op == 0 and isinstance(parent, dict):
            del parent[key]
        elif op == 1 and isinstance(parent[key], list):
            parent[key] = parent[key] * rng.choice([2, 50])
        else:
            parent[key] = rng.choice(_LEAVES + NASTY)
    return doc


@dataclass
class Kind:
    """One input kind: its cases are generated from a seed and run against a fresh state."""

    name: str
    make: Callable[[random.Random], Any]
    run: Callable[[Any, Path, Store], Outcome]
    needs_store: bool = True


# -- sign-in sheets ---------------------------------------------------------------------------
SHEETS = [
    "email,nom,prénom,présent,date\nann@example.org,Martin,Ann,présent,2026-03-01\n"
    "bob@example.org,Durand,Bob,absent,01/03/2026\n",
    "Courriel;Nom complet;Statut;Séance;Lieu\nchloe@example.org;Chloé \"Ché\" Petit;x;s-1;Fab lab\n"
    'dan@example.org;"Dan\nLe Grand";P;s-1;Tiers-lieu\n',
    "E-mail\tName\tAttendance\tSession date\tTitle\nemma@example.org\tEmma\t✓\t2026-03-01 14:00\tAtelier\n",
]


def _sheet_make(rng: random.Random) -> bytes:
    text = mutate_text(rng, rng.choice(SHEETS), ["ann@example.org", "présent", "absent", "✓"])
    return text.encode(rng.choice(["utf-8", "utf-8", "utf-8-sig", "cp1252"]), errors="replace")


def _sheet_run(raw: bytes, tmp: Path, store: Store) -> Outcome:
    from connectors.csv import CsvConfig, decode, parse_sheet

    sheet = parse_sheet(decode(raw), "sheets", CsvConfig(kind="csv", path=tmp, course="c1"))
    refused = _ingest(store, sheet.batch)
    return "refused" if sheet.problems or refused else "ok"


def _ingest(store: Store, batch: Batch) -> bool:
    """Store the batch as a pull does; True if some record was refused. A StoreError is a
    refusal of the whole batch (rolled back whole), anything else a crash."""
    run_id = store.runs.begin(["fuzz"])
    try:
        result = store.facts.ingest(run_id, batch)
    except BridgeError:
        return True
    for refusal in result.refused:
        store.runs.record_error(run_id, refusal)
    return bool(result.refused)


# -- config files -----------------------------------------------------------------------------
CONFIG = '''[bridge]
public_url = "https://badges.example.org"
data_dir = "state"
default_language = "fr"
timezone = "Europe/Paris"

[issuer]
name = "Réseau"
email = "badges@example.org"

[smtp]
host = "127.0.0.1"
port = 2525
username = "bb"
password = { env = "FUZZ_SMTP_PASSWORD" }

[web]
admin_token = { env = "FUZZ_ADMIN_TOKEN" }

[sources.moodle]
kind = "moodle"
url = "https://moodle.example.org"
token = { env = "FUZZ_MOODLE_TOKEN" }
courses = ["42"]

[sources.sheets]
kind = "csv"
path = "sheets"
course = "42"
'''


def _config_make(rng: random.Random) -> str:
    return mutate_text(rng, CONFIG, ["kind", "url", "token", "sources", "[sources.x]", "password",
                                     "admin_token", "data_dir", "database_url"])


def _config_run(text: str, tmp: Path, store: Store) -> Outcome:
    from connectors.registry import load

    path = tmp / "bridge.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass") if _encodable(text) \
        else path.write_bytes(text.encode("utf-8", errors="replace"))
    try:
        load(path, secrets=True)
    except BridgeError as exc:
        if "Traceback" in str(exc):
            raise AssertionError("a traceback inside an error") from None
        return "refused" if getattr(exc, "line", None) or "UTF-8" in str(exc) else "unplaced"
    return "ok"


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- rule files -------------------------------------------------------------------------------
RULE = '''[badge]
id = "snt"
name = { fr = "Médiateur SNT", en = "SNT mediator" }
description = { fr = "A suivi le parcours.", en = "Completed the path." }
expires_after = "P2Y"

[condition]
all = [
  { course_completed = { source = "moodle", course = "42" } },
  { any = [
      { grade = { source = "moodle", course = "42", ">=" = 0.5 } },
      { presence = { source = "sheets", course = "42", at_least = 2 } },
  ] },
  { not = { enrolled = { source = "moodle", course = "42" } } },
  { fact_between = { from = 2025-09-01, until = 2026-08-31, course_completed = { source = "moodle", course = "42" } } },
]
'''


def _rule_make(rng: random.Random) -> str:
    return mutate_text(rng, RULE, ["all", "any", "not", "at_least", "source", "course", "badge",
                                   "condition", "expires_after", "id", '"snt"', "0.5", "P2Y",
                                   "2025-02-29", "9999-12-31T23:59:59", '">="'])


def _rule_run(text: str, tmp: Path, store: Store) -> Outcome:
    from badge_rules import load_rules

    rules = tmp / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "r.toml").write_bytes(text.encode("utf-8", errors="replace"))
    try:
        load_rules(rules, {"moodle": {"42"}, "sheets": {"42"}})
    except RuleError as exc:
        return "refused" if all(line for _, line, _ in exc.problems) else "unplaced"
    except BridgeError:
        return "refused"
    return "ok"


# -- platform payloads (Moodle, as recorded) ------------------------------------------------------
def _payloads() -> dict[str, Any]:
    names = {
        "activities": "core_completion_get_activities_completion_status__alice_completed.json",
        "course": "core_completion_get_course_completion_status__alice_completed.json",
        "grades": "gradereport_user_get_grade_items.json",
        "sessions": "mod_attendance_get_sessions.json",
        "roster": "core_enrol_get_enrolled_users.json",
    }
    return {k: json.loads((FIXTURES / v).read_text(encoding="utf-8")) for k, v in names.items()}


_SEEDS: dict[str, Any] = {}


def _payload_make(rng: random.Random) -> tuple[str, Any]:
    if not _SEEDS:
        _SEEDS.update(_payloads())
    which = rng.choice(sorted(_SEEDS))
    return which, mutate_json(rng, _SEEDS[which])


def _validated(model: Any, payload: Any, endpoint: str) -> Any:
    """As the Moodle client validates an answer: a payload not of the promised shape is a
    PayloadError naming the endpoint and the field."""
    try:
        return TypeAdapter(model).validate_python(payload)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        raise SourceError(err["msg"], source="moodle", endpoint=endpoint,
                          field=".".join(str(p) for p in err["loc"])) from None


def _payload_run(case: tuple[str, Any], tmp: Path, store: Store) -> Outcome:
    from connectors.moodle import payloads as p
    from connectors.moodle.client import events_of, feed
    from connectors.moodle.course import _activity_facts, _course_fact
    from connectors.moodle.signals import read_signals

    which, payload = case
    batch = Batch()
    refusals: list[SourceError] = []
    try:
        if which == "activities":
            acts = _validated(p.ActivitiesStatus, payload, "core_completion_get_activities_completion_status")
            batch = Batch(identities=[Identity("moodle", "7", email="ann@example.org")],
                          facts=_activity_facts("moodle", "42", "7", acts))
        elif which == "course":
            cc = _validated(p.CourseCompletion, payload, "core_completion_get_course_completion_status")
            batch = Batch(identities=[Identity("moodle", "7", email="ann@example.org")],
                          facts=[_course_fact("moodle", "42", "7", cc)])
        elif which in ("grades", "sessions"):
            model = p.GradeItems if which == "grades" else list[p.AttendanceSession]

            class Client:  # MoodleClient's reads, on the case's payload
                def call(self, function: str, _model: Any, **params: Any) -> Any:
                    return _validated(model, payload, function)

                def each(self, function: str, key: str, parse: Any, add: Any, **params: Any) -> None:
                    _validated(model, payload, function)  # refused whole as the model would
                    feed(function, "moodle", key, parse, add(), payload[key] if key else payload)

                def events(self, function: str, add: Any, **params: Any) -> None:
                    _validated(model, payload, function)  # refused whole as the model would
                    add()(events_of(payload))

            signals = read_signals(Client(), "moodle", "42", grades=which == "grades",  # type: ignore[arg-type]
                                   attendance=[1] if which == "sessions" else [], present={"P"}, tags=[])
            refusals = signals.refused
            batch = Batch(identities=[Identity("moodle", str(u)) for u in signals.facts],
                          facts=[f for fs in signals.facts.values() for f in fs])
        else:
            users = _validated(list[p.EnrolledUser], payload, "core_enrol_get_enrolled_users")
            batch = Batch(identities=[Identity("moodle", str(u.id), username=u.username, email=u.email,
                                               fullname=u.fullname) for u in users])
    except SourceError:
        return "refused"
    return "refused" if _ingest(store, batch) or refusals else "ok"


# -- web requests -----------------------------------------------------------------------------
TOKEN = "fuzz-admin-token-0123456789"
PATHS = ["/", "/healthz", "/metrics", "/did.json", "/.well-known/did.json", "/ob2/issuer",
         "/ob2/issuer/image", "/ob2/keys/{x}", "/ob2/badges/{badge}", "/ob2/badges/{badge}/image",
         "/ob2/assertions/{award}", "/ob2/assertions/{award}/badge.png", "/ob2/assertions/{award}/signed",
         "/ob2/revocations", "/ob3/achievements/{badge}", "/ob3/credentials/{award}",
         "/ob3/credentials/{award}/jwt", "/ob3/status/{n}", "/v/{award}", "/v/{award}/qr.svg",
         "/v/{award}/name", "/admin/runs", "/admin/awards", "/admin/awards/{award}/revoke",
         "/admin/awards/{award}/resend", "/static/{x}", "/m/{x}", "/o/{x}", "/c/{x}",
         "/m/s1", "/m/s1/{qr}", "/m/confirm/{x}", "/o/{org}", "/o/{org}/state", "/o/{org}/qr.svg",
         "/o/{org}/add", "/o/{org}/remove", "/o/{org}/close", "/o/{org}/sheet", "/o/{org}/sheet.csv",
         "/.well-known/openid-credential-issuer", "/.well-known/oauth-authorization-server",
         "/v/{award}/wallet-offer", "/v/{award}/wallet-offer.svg", "/oid4vci/token", "/oid4vci/credential"]


@dataclass
class WebCase:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _web_make(rng: random.Random) -> WebCase:
    from urllib.parse import quote

    values = {"award": "AWARD", "badge": "snt", "x": "x", "n": "0", "qr": "QRTOKEN", "org": "ORGTOKEN"}
    path = rng.choice(PATHS)
    for key in values:
        if "{" + key + "}" in path:
            value = values[key] if rng.random() < 0.5 else mutate_text(rng, values[key])[:300]
            path = path.replace("{" + key + "}", quote(value, safe=""))
    if rng.random() < 0.5:
        query = mutate_text(rng, rng.choice(["limit=20", "lang=fr", "t=abc", "email=a@example.org",
                                             "badge=snt", "limit=abc&lang=xx", "pre-authorized_code=x",
                                             "since=0"]))[:500]
        path += "?" + quote(query, safe="=&")
    headers: dict[str, str] = {}
    if rng.random() < 0.6:
        headers["Authorization"] = rng.choice([f"Bearer {TOKEN}", TOKEN, "Bearer ", "Basic eA==",
                                               f"bearer {TOKEN}", f"Bearer {TOKEN} x", "Bearer \t"])
    if rng.random() < 0.5:
        headers["Accept"] = rng.choice(["text/html", "application/json", "*/*", "text/html;q=x,,"])
    if rng.random() < 0.3:
        headers["Accept-Language"] = mutate_text(rng, "fr-FR,fr;q=0.9,en;q=0.8")[:200]
    body = b""
    if rng.random() < 0.5:
        body = mutate_text(rng, rng.choice([
            '{"reason": "fraud"}', "hide=1&t=abc", "[]", "{}", "email=ann%40example.org&form=x",
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code=x",
            '{"format": "ldp_vc", "proof": {"proof_type": "jwt", "jwt": "a.b.c"}}', "email=&name=x",
            "--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@example.org\r\n--x--\r\n"]))[:2000] \
            .encode("utf-8", errors="replace")
        headers["Content-Type"] = rng.choice(["application/json", "application/x-www-form-urlencoded",
                                              "multipart/form-data; boundary=x", "text/plain"])
    headers = {k: v.encode("latin-1", errors="replace").decode("latin-1").replace("\r", "")
               .replace("\n", "") for k, v in headers.items()}
    return WebCase(rng.choice(["GET", "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"]), path,
                   headers, body)


class WebTarget:
    """An app over a store holding one award, exercised in process (starlette's TestClient)."""

    def __init__(self, tmp: Path, store: Store) -> None:
        import os

        from connectors.registry import load
        from jobs.run import run_sync

        os.environ["FUZZ_ADMIN_TOKEN_WEB"] = TOKEN
        (tmp / "rules").mkdir(exist_ok=True)
        (tmp / "rules" / "r.toml").write_text(RULE.split("[condition]")[0] + '[condition]\nall = [{ presence = '
                                              '{ source = "sheets", course = "42" } }]\n', encoding="utf-8")
        (tmp / "sheets").mkdir(exist_ok=True)
        (tmp / "sheets" / "s.csv").write_text(SHEETS[0], encoding="utf-8")
        now = datetime.now(UTC).replace(tzinfo=None)
        start, end = now - timedelta(hours=1), now + timedelta(hours=2)
        (tmp / "web.toml").write_text(f'''[bridge]
public_url = "http://testserver"
data_dir = "state"
database_url = "{store.url}"

wallet_offers = true

[web]
admin_token = {{ env = "FUZZ_ADMIN_TOKEN_WEB" }}

[sources.rencontres]
kind = "meetups"

[[sources.rencontres.sessions]]
id = "s1"
title = "Atelier"
place = "Fab lab"
town = "Nice"
start = {start:%Y-%m-%dT%H:%M:00}
end = {end:%Y-%m-%dT%H:%M:00}
course = "42"

[sources.sheets]
kind = "csv"
path = "sheets"
course = "42"
''', encoding="utf-8")
        config = load(tmp / "web.toml")
        run_sync(config, store, steps=("pull", "evaluate", "issue"))
        self.award = store.awards.listing()[0].award.id
        from bridge.issuing.keys import generate_key
        from bridge.meetups.tokens import Tokens, load_key

        for key_kind in ("rsa", "ed25519"):
            generate_key(config.bridge.keys_path, key_kind)  # type: ignore[arg-type]
        tokens = Tokens(load_key(config.bridge.keys_path))
        session = store.meetups.get("s1")
        self.org = tokens.organiser("s1", session.link_generation) if session else "none"
        self.qr = tokens.qr("s1", datetime.now(UTC))
        from bridge.web.app import create_app

        self.app = create_app(config, store)

    def run(self, case: WebCase) -> Outcome:
        target = case.path.replace("AWARD", self.award).replace("ORGTOKEN", self.org) \
            .replace("QRTOKEN", self.qr)
        status, body = asgi_request(self.app, case.method, target, case.headers, case.body)
        if status >= 500 and status != 503:
            raise AssertionError(f"HTTP {status} for {case.method} {case.path}")
        if b"Traceback" in body:
            raise AssertionError(f"a traceback in the answer to {case.method} {case.path}")
        return "refused" if status >= 400 else "ok"


def asgi_request(app: Any, method: str, target: str, headers: dict[str, str],
                 body: bytes) -> tuple[int, bytes]:
    """One request straight to an ASGI app, as a server would pass it (no HTTP client needed);
    an exception the app lets out is raised here, as a server would turn it into a 500."""
    import asyncio
    from urllib.parse import unquote

    path, _, query = target.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": unquote(path), "raw_path": path.encode("latin-1", "replace"),
             "query_string": query.encode("latin-1", "replace"), "root_path": "",
             "headers": [(b"host", b"testserver"), *((k.lower().encode("latin-1"), v.encode("latin-1"))
                                                       for k, v in headers.items())],
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    sent: dict[str, Any] = {"status": 0, "body": b""}
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            return {"type": "http.disconnect"}
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
        elif message["type"] == "http.response.body":
            sent["body"] += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return int(sent["status"]), bytes(sent["body"])


KINDS: dict[str, Kind] = {
    "sheet": Kind("sheet", _sheet_make, _sheet_run),
    "config": Kind("config", _config_make, _config_run, needs_store=False),
    "rules": Kind("rules", _rule_make, _rule_run, needs_store=False),
    "payload": Kind("payload", _payload_make, _payload_run),
}


def scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="bb-fuzz-"))


def cleanup(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
