"""The sandbox's FUN-MOOC dialect answers as lms.fun-mooc.fr does: Open edX Dogwood with
FUN's fun-apps (lms-api.md §7.2). One test per behaviour, naming the file it comes from."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import requests

from sandbox import SandboxPlatform
from sandbox.edx_http import passed

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "fun"


def test_dogwood_has_none_of_the_current_apis() -> None:
    """openfun/openedx-docker releases/dogwood/3/fun/Dockerfile builds Dogwood: no enrollment
    list, grades v1, completion, completion-batch or aggregator (the LMS's HTML 404), and its
    OAuth2 provider issues opaque Bearer tokens whatever `token_type` asks."""
    with SandboxPlatform("fun", learners=5, seed=3) as p, requests.Session() as http:
        key = p.course_ids[0]
        urls = [f"/api/enrollment/v1/enrollments?course_id={key}", f"/api/grades/v1/courses/{key}/",
                f"/completion-aggregator/v1/course/{key}/", f"/api/courses/v1/blocks/?course_id={key}"]
        codes = [http.get(p.base_url + u) for u in urls]
        batch = http.post(f"{p.base_url}/api/completion/v1/completion-batch", json={})
        tok = http.post(f"{p.base_url}/oauth2/access_token", data={
            "grant_type": "client_credentials", "client_id": p.client_id,
            "client_secret": p.client_secret, "token_type": "jwt"}).json()
    assert [(r.status_code, r.headers["Content-Type"].split(";")[0]) for r in [*codes, batch]] \
        == [(404, "text/html")] * 5
    assert tok["token_type"] == "Bearer"


def test_grades_per_learner_with_the_api_key_and_old_style_course_keys() -> None:
    """openfun/fun-apps grades_api/api.py get_student_course_grade, mounted at ^fun/api/grades/
    (fun/lms/urls.py) under COURSE_KEY_PATTERN, which takes ORG/NUMBER/RUN keys: the
    ApiKeyHeaderPermission alone guards it; the answer is Dogwood's grade summary plus
    `passed`; an unknown user is a 404 whose body is the error's text."""
    with SandboxPlatform("fun", learners=40, seed=7) as p, requests.Session() as http:
        key, c = p.course_ids[0], p.world.courses[0]
        u = next(x for x in p.world.learners if x.progress[c.id].grade)
        k = {"X-Edx-Api-Key": p.api_key}
        ok = http.get(f"{p.base_url}/fun/api/grades/{key}/{u.username}/", headers=k)
        no_slash = http.get(f"{p.base_url}/fun/api/grades/{key}/{u.username}", headers=k)
        no_key = http.get(f"{p.base_url}/fun/api/grades/{key}/{u.username}/")
        unknown = http.get(f"{p.base_url}/fun/api/grades/{key}/nobody_here/", headers=k)
    expected = json.loads((FIX / "grades_api.json").read_text(encoding="utf-8"))
    assert key == "FUN/SNT/2026_T1"
    assert set(ok.json()) == set(expected)
    assert ok.json()["percent"] == u.progress[c.id].grade and ok.json()["passed"] is passed(c, u)
    assert ok.json()["grade"] == ("Pass" if passed(c, u) else None)
    assert no_slash.history[0].status_code == 301 and no_slash.json() == ok.json()
    assert no_key.status_code == 403
    assert unknown.status_code == 404 and unknown.json() == "User matching query does not exist."


def test_the_single_enrollment_view_takes_the_api_key() -> None:
    """edx-platform enrollments/views.py EnrollmentView (Dogwood too): ApiKeyHeaderPermission
    or an authenticated user; one enrollment, an empty body when there is none."""
    with SandboxPlatform("fun", learners=5, seed=3) as p, requests.Session() as http:
        u, key = p.world.learners[0].username, p.course_ids[0]
        k = {"X-Edx-Api-Key": p.api_key}
        one = http.get(f"{p.base_url}/api/enrollment/v1/enrollment/{u},{key}", headers=k)
        none = http.get(f"{p.base_url}/api/enrollment/v1/enrollment/nobody,{key}", headers=k)
        refused = http.get(f"{p.base_url}/api/enrollment/v1/enrollment/{u},{key}")
    assert one.json()["user"] == u and one.json()["course_details"]["course_id"] == key
    assert none.status_code == 200 and none.content == b""
    assert refused.status_code == 403


def read(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_the_instructor_reports_are_written_as_dogwood_writes_them(tmp_path: Path) -> None:
    """edx-platform named-release/dogwood.3 lms/djangoapps/instructor_task/tasks_helper.py:
    `upload_grades_csv` (id, email, username, grade, section labels, Enrollment Track,
    Verification Status, Certificate Eligible/Delivered/Type) and `upload_students_csv` (the
    profile features), named `{org}_{course}_{run}_{report}_{YYYY-MM-DD-HHMM}.csv`."""
    with SandboxPlatform("fun", learners=40, seed=7, certificate_delay=3600) as p:
        c = p.world.courses[0]
        fresh = next(x for x in p.world.learners if not x.progress[c.id].grade)
        fresh.progress[c.id].grade, fresh.progress[c.id].gradetime = 0.75, p.world.now
        paths = p.write_reports(tmp_path)
        learners = {u.username: u for u in p.world.enrolled(c.id)}
    names = sorted(path.name.rsplit("_", 1)[0] for path in paths)
    assert names == ["FUN_SNT_2026_T1_grade_report", "FUN_SNT_2026_T1_student_profile_info"]
    grades = read(next(path for path in paths if "grade_report" in path.name))
    fixture_header = next(csv.reader(io.StringIO(
        (FIX / "FUN_SNT_2026_T1_grade_report_2026-03-02-0915.csv").read_text(encoding="utf-8"))))
    ours = list(grades[0])
    assert ours[:4] == fixture_header[:4] and ours[-5:] == fixture_header[-5:]
    by_user: dict[str, dict[str, Any]] = {r["username"]: r for r in grades}
    assert set(by_user) == set(learners)
    for name, row in by_user.items():
        u = learners[name]
        assert (row["email"], float(row["grade"])) == (u.email, round(u.progress[c.id].grade or 0.0, 2))
        assert row["Certificate Eligible"] == ("Y" if passed(c, u) else "N")
    assert by_user[fresh.username]["Certificate Eligible"] == "Y"
    assert by_user[fresh.username]["Certificate Delivered"] == "N"  # generated later
    profiles = read(next(path for path in paths if "profile" in path.name))
    assert list(profiles[0])[:4] == ["id", "username", "name", "email"]
    assert {r["username"]: r["name"] for r in profiles} == {n: u.fullname for n, u in learners.items()}
