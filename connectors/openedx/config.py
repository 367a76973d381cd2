"""The `[sources.<id>]` table of an `openedx` source: an LMS reached with OAuth2 client
credentials of a global-staff user, the API key that lifts the enrollment throttle, what to read."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from bridge.config import HttpSourceConfig
from connectors.edx_common import check_course_keys
from connectors.push_route import PushRoute

__all__ = ["OpenEdxConfig"]


class OpenEdxConfig(HttpSourceConfig):
    kind: Literal["openedx"] = "openedx"
    url: str = Field(description="the LMS base URL, e.g. https://lms.example.org")
    client_id: str = Field(description="OAuth2 client-credentials application of a global-staff user")
    client_secret: SecretStr
    api_key: SecretStr | None = Field(None, description="the LMS's EDX_API_KEY, sent as "
                                      "X-Edx-Api-Key with the token: the enrollment list is then "
                                      "not throttled (alone it authenticates nobody)")
    courses: list[str] = Field(min_length=1, description="course keys: course-v1:ORG+NUMBER+RUN "
                               "(or ORG/NUMBER/RUN for older courses)")
    # The learners' language (the LMS does not give a staff reader their site language): any
    # tag (de, pt-BR…); the catalogs decide what it is shown in (bridge.i18n.negotiate).
    default_lang: str = "en"
    page_size: int = Field(1000, ge=1, le=10000, description="rows per page of grades and of "
                           "the aggregator (enrollment pages hold at most 100: the server's limit)")
    completion: bool = Field(True, description="read the completion-aggregator plugin "
                             "(a warning once a run if it is not installed)")
    certificates: bool = True
    certificate_wait: timedelta = Field(
        timedelta(days=7), description="how long a learner who passed without a certificate is "
        "asked again at each run (certificates are generated asynchronously), e.g. \"P7D\"")
    blocks: list[str] = Field(default_factory=list, description="usage keys whose completion is "
                              "read per learner whose signal moved (one call each)")
    push: list[PushRoute] = Field(default_factory=list,
                                  description="presence push-back routes, see jobs.push")

    @field_validator("courses")
    @classmethod
    def _keys(cls, v: list[str]) -> list[str]:
        return check_course_keys(v)
