"""Seeded worlds: the 40-learner "demo" hybrid course and the fast "scale" profile.
Deterministic in the seed; timestamps are relative to `now` (default: wall clock)."""

from __future__ import annotations

import gc
import random
import time
import unicodedata

from .world import (
    COMPLETE,
    TRACKING_AUTO,
    TRACKING_MANUAL,
    Activity,
    ActivityState,
    AttendanceSession,
    Course,
    Learner,
    Progress,
    World,
)

DAY = 86400
FIRST_ID = 101
FR_FIRST = [
    "Camille", "Élodie", "Thomas", "Mehdi", "Léa", "Hugo", "Chloé", "Nicolas", "Inès", "Julien",
    "Manon", "Antoine", "Yasmine", "Mathieu", "Océane", "Karim", "Sophie", "Lucas", "Aurélie",
    "Romain", "Fatima", "Benoît", "Zoé", "Grégoire", "Amandine", "Rachid", "Hélène", "Jérôme",
    "Noémie", "François", "Salomé", "Théo", "Leïla", "Cédric", "Maëlle", "Sébastien",
]
FR_LAST = [
    "Lefèvre", "Moreau", "Dubois", "Benali", "Martin", "Bernard", "Petit", "Durand", "Leroy",
    "Roux", "Fournier", "Girard", "Bonnet", "Mercier", "Faure", "Rousseau", "Blanc", "Guérin",
    "Muller", "Henry", "Chevalier", "Garnier", "Mazouz", "Lambert", "Fontaine", "Nguyen",
    "Haddad", "Perrin", "Morel", "Gauthier", "Lemaire", "Brun", "Aubert", "Da Silva",
]
EN_FIRST = ["Sarah", "James", "Emily", "Oliver", "Grace", "Daniel", "Hannah", "Michael",
            "Olivia", "Ethan", "Chloe", "Liam"]
EN_LAST = ["Johnson", "Smith", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Walker",
           "O'Brien", "Clarke", "Wright", "Hughes"]
FR_ANCHORS = [("Camille", "Lefèvre"), ("Élodie", "Moreau"), ("Thomas", "Dubois"),
              ("Mehdi", "Benali")]
EN_ANCHORS = [("Sarah", "Johnson"), ("James", "Smith")]
ACADEMIES = ["ac-nice.fr", "ac-aix-marseille.fr", "ac-lyon.fr", "ac-montpellier.fr"]

# Demo mix (40 learners): category -> count.
DEMO_MIX = [
    ("complete", 12),         # everything done, course complete, present at the meetup
    ("online_done", 8),       # 501 + 502 done, no meetup (a few marked absent)
    ("meetup_only", 5),       # attended (P + 503 complete), online not finished
    ("meetup_logged", 3),     # marked P in attendance, 503 not completed yet
    ("started", 5),           # 501 only
    ("not_started", 7),       # nothing, never accessed the course
]


def ascii_slug(text: str, sep: str = ".") -> str:
    flat = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return sep.join(part for part in "".join(
        ch.lower() if ch.isalnum() else " " for ch in flat).split())


def make_course(idx: int, now: int, org: str) -> Course:
    """Course 42 (+idx): pages 501, quiz 502, attendance 503, optional url 504."""
    cid, base = 42 + idx, 501 + 10 * idx
    suffix = "" if idx == 0 else f"-{idx + 1}"
    number = "SNT" if idx == 0 else f"SNT{idx + 1}"
    key = f"course-v1:{org}+{number}+2026_T1"
    acts = [
        Activity(base, 11 + idx, "page", "Module 1 — Internet", TRACKING_AUTO, True, "internet",
                 "completionview", "View", "Viewing the page"),
        Activity(base + 1, 12 + idx, "quiz", "Module 2 — Le Web", TRACKING_AUTO, True, "web_quiz",
                 "completionusegrade", "Receive a grade", "Achieving grade"),
        Activity(base + 2, 7 + idx, "attendance", "Temps de rencontre — tiers-lieu", TRACKING_AUTO,
                 True, "presence", "completionusegrade", "Receive a grade", "Achieving grade"),
        Activity(base + 3, 13 + idx, "url", "Ressources complémentaires (facultatif)",
                 TRACKING_MANUAL, False, "resources"),
    ]
    s0 = 21 + 4 * idx
    today = now - now % DAY + 16 * 3600
    sessions = [
        AttendanceSession(3001 + 10 * idx, today - 14 * DAY + 2 * 3600, 3 * 3600,
                          "<p>Temps de rencontre n°1 — atelier « Internet et le Web »</p>",
                          "Tiers-lieu La Fabrique, Nice", today - 14 * DAY + 5 * 3600 + 900,
                          4, today - 14 * DAY + 5 * 3600 + 900),
        AttendanceSession(3002 + 10 * idx, today, 3 * 3600,
                          "<p>Temps de rencontre n°2 — projets SNT en classe</p>",
                          "Médiathèque Louis Nucéra, Nice"),
    ]
    return Course(
        id=cid, shortname=f"SNT-HYB-2026{suffix}",
        fullname="SNT — Sciences numériques et technologie (parcours hybride)"
        + (f" — groupe {idx + 1}" if idx else ""),
        idnumber=f"SNT-HYB-2026-T1{suffix}", key=key, activities=acts,
        attendance_id=7 + idx, statuses={"P": s0, "A": s0 + 1, "L": s0 + 2, "E": s0 + 3},
        sessions=sessions, startdate=today - 60 * DAY, timecreated=today - 75 * DAY,
    )


def staff_users(now: int) -> list[Learner]:
    return [
        Learner(3, "badgebridge", "Badge", "Bridge", "badge-bridge@example.org", "fr",
                now - 90 * DAY, now - 60, role="service"),
        Learner(4, "nadia_haddad", "Nadia", "Haddad", "nadia.haddad@ac-nice.fr", "fr",
                now - 80 * DAY, now - DAY, role="editingteacher"),
    ]


def apply_category(world_now: int, course: Course, pr: Progress, cat: str,
                   rng: random.Random, teacher_id: int) -> None:
    """Fill one learner's progress in one course according to a mix category."""
    page, quiz, att, url = course.activities
    rnd = rng.random

    def within(span: int) -> int:  # rng.randint(0, span), 3x cheaper
        return int(rnd() * (span + 1))

    t0 = world_now - (20 + within(30)) * DAY
    meet = course.sessions[0]

    def done(a: Activity, when: int, by: int | None = None) -> None:
        pr.activities[a.cmid] = ActivityState(COMPLETE, when, by)
        if a.criterion:
            pr.criteria_done[a.cmid] = when

    if cat == "not_started":
        return
    done(page, t0 + within(3 * DAY))
    if cat in ("complete", "online_done", "meetup_logged"):
        t_quiz = t0 + 4 * DAY + within(6 * DAY)
        pr.grade, pr.gradetime = round(0.55 + 0.45 * rnd(), 2), t_quiz
        done(quiz, t_quiz)
    if cat in ("complete", "online_done", "meetup_only", "meetup_logged"):
        pr.visited.add(att.block)  # opened the meetup unit's page (Open edX: its info block)
    if cat in ("complete", "meetup_only"):
        pr.attendance[meet.id] = "P"
        done(att, meet.sessdate + meet.duration + 600 + within(DAY), teacher_id)
    elif cat == "meetup_logged":
        pr.attendance[meet.id] = "P"
    elif cat == "online_done" and rnd() < 0.4:
        pr.attendance[meet.id] = "A"
    if rnd() < 0.2:
        done(url, t0 + within(5 * DAY))
    last = max([t0, *(s.timecompleted for s in pr.activities.values())])
    pr.lastcourseaccess = min(last + within(2 * DAY), world_now - 60)


def demo_world(seed: int = 7, learners: int = 40, now: int | None = None,
               org: str = "SandboxX") -> World:
    """The demo: one hybrid course 42, realistic names, a known mix of progress."""
    rng = random.Random(seed)
    now = int(now if now is not None else time.time())
    course = make_course(0, now, org)
    staff = staff_users(now)
    cats = [c for c, n in DEMO_MIX for _ in range(n)]
    while len(cats) < learners:
        cats.append(rng.choice([c for c, _ in DEMO_MIX]))
    cats = cats[:learners]
    rng.shuffle(cats)
    people: list[Learner] = []
    seen: set[str] = set()
    fr_names = [(f, la) for f in FR_FIRST for la in FR_LAST]
    en_names = [(f, la) for f in EN_FIRST for la in EN_LAST]
    rng.shuffle(fr_names)
    rng.shuffle(en_names)
    # the names the docs and the demo talk about come first (pop() takes from the end)
    for pool, anchors in ((fr_names, FR_ANCHORS), (en_names, EN_ANCHORS)):
        pool[:] = [n for n in pool if n not in anchors] + list(reversed(anchors))
    langs = ["fr"] * round(learners * 0.75) + ["en"] * (learners - round(learners * 0.75))
    rng.shuffle(langs)
    final = {cat: i for i, cat in enumerate(cats)}  # the showcase names keep their email
    no_email = {final["complete"], final["not_started"]} if learners >= 40 else set()
    for i, (cat, lang) in enumerate(zip(cats, langs, strict=True)):
        first, last = (fr_names if lang == "fr" else en_names).pop()
        slug = ascii_slug(f"{first} {last}")
        n = 2
        base_slug = slug
        while slug in seen:
            slug, n = f"{base_slug}{n}", n + 1
        seen.add(slug)
        domain = rng.choice(ACADEMIES) if lang == "fr" else "example.org"
        email = "" if i in no_email else f"{slug}@{domain}"
        p = Learner(FIRST_ID + i, slug.replace(".", "_"), first, last, email, lang)
        pr = Progress(enrolled=True, enroltime=course.startdate + rng.randint(0, 20) * DAY)
        apply_category(now, course, pr, cat, rng, staff[1].id)
        p.progress[course.id] = pr
        if pr.lastcourseaccess:
            p.firstaccess = pr.enroltime + rng.randint(0, DAY)
            p.lastaccess = max(pr.lastcourseaccess, p.firstaccess)
        people.append(p)
    return World(courses=[course], learners=people, staff=staff, now=now)


SCALE_MIX = [("complete", 0.30), ("online_done", 0.20), ("meetup_only", 0.10),
             ("meetup_logged", 0.05), ("started", 0.15), ("not_started", 0.20)]


def scale_world(seed: int = 7, learners: int = 20000, courses: int = 1,
                now: int | None = None, org: str = "SandboxX") -> World:
    """N learners over M courses (42, 43, …); ~10% also enrolled in a second course.

    The cyclic garbage collector is paused while the world is built: the build makes no reference
    cycles, and the collector's passes over millions of them took 60 % of the time (300,000
    learners: about a minute on a loaded machine)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _scale_world(seed, learners, courses, now, org)
    finally:
        if was_enabled:
            gc.enable()


def _scale_world(seed: int, learners: int, courses: int, now: int | None, org: str) -> World:
    rng = random.Random(seed)
    now = int(now if now is not None else time.time())
    cs = [make_course(i, now, org) for i in range(max(1, courses))]
    staff = staff_users(now)
    names = [(f, la, "fr") for f in FR_FIRST for la in FR_LAST] + \
        [(f, la, "en") for f in EN_FIRST for la in EN_LAST]
    cats = [c for c, _ in SCALE_MIX]
    weights = [w for _, w in SCALE_MIX]
    drawn = rng.choices(cats, weights, k=learners * 2)
    slugs = [ascii_slug(f"{first} {last}") for first, last, _ in names]
    people: list[Learner] = []
    for i in range(learners):
        k = (i * 7919) % len(names)
        first, last, lang = names[k]
        slug = f"{slugs[k]}.{i + 1}"
        domain = "example.org" if lang == "en" else ACADEMIES[i % len(ACADEMIES)]
        p = Learner(FIRST_ID + i, slug.replace(".", "_"), first, last, f"{slug}@{domain}", lang)
        homes = [cs[i % len(cs)]]
        if len(cs) > 1 and rng.random() < 0.1:
            homes.append(cs[(i + 1) % len(cs)])
        for k, c in enumerate(homes):
            pr = Progress(enrolled=True, enroltime=c.startdate + (i % 20) * DAY)
            apply_category(now, c, pr, drawn[2 * i + k], rng, staff[1].id)
            p.progress[c.id] = pr
            if pr.lastcourseaccess:
                p.firstaccess = p.firstaccess or pr.enroltime + 3600
                p.lastaccess = max(p.lastaccess, pr.lastcourseaccess, p.firstaccess)
        people.append(p)
    return World(courses=cs, learners=people, staff=staff, now=now)
