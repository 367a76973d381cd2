"""What the `openedx` connector needs of an LMS, each with the read that proves it and the fix.

Read in the platform's code: edx-platform (enrollments/views.py, grades/rest_api/v1/utils.py,
oauth_dispatch, user_api/accounts/views.py), openedx/completion (api/v1/views.py, waffle.py,
services.py), open-craft/openedx-completion-aggregator (apps.py), overhangio/tutor
(tutor/templates/jobs/init/lms.sh turns the completion switch on).
"""

from __future__ import annotations

from connectors.requirements import Requirement, index

__all__ = ["REQUIREMENTS", "NEEDS", "BLOCKS_COMPLETED_ON_VIEW"]

REQUIREMENTS = (
    Requirement(
        "client_credentials", "credential", "OAuth2 client-credentials application",
        "pull, push", "POST /oauth2/access_token (grant_type=client_credentials, token_type=jwt) "
        "answers 200 with a JWT",
        "in Django admin > Django OAuth Toolkit > Applications, add an application: client type "
        "confidential, grant type client credentials, user = the service user; copy its client id "
        "and secret into client_id / client_secret"),
    Requirement(
        "global_staff", "role", "is_staff", "pull, push",
        "GET /api/enrollment/v1/roles/ answers is_staff: true",
        "in Django admin > Users, open the service user and tick \"Staff status\" (global "
        "staff; course staff is not enough for the enrollment list, the all-learners grades and "
        "another learner's completion)"),
    Requirement(
        "unrestricted_application", "application", "restricted application", "pull, push",
        "the JWT's is_restricted claim is false",
        "in Django admin > OAuth2 > Restricted applications, remove the application (a "
        "restricted application reads no learner data); its default scopes include profile"),
    Requirement(
        "completion_switch", "switch", "completion.enable_completion_tracking", "push",
        "POST /api/completion/v1/completion-batch with an empty blocks object for an enrolled "
        "learner answers 200 (400 naming submit_batch_completion when off)",
        "turn the waffle switch on: ./manage.py lms waffle_switch --create "
        "completion.enable_completion_tracking on (or Django admin > Waffle > Switches); Tutor "
        "does it at init"),
    Requirement(
        "aggregator", "plugin", "openedx-completion-aggregator", "course completion",
        "GET /completion-aggregator/v1/course/{course}/ answers JSON, not the LMS's 404 page",
        "pip install openedx-completion-aggregator in the LMS and run its "
        "run_aggregator_service cron (Tutor: tutor config save --append "
        "OPENEDX_EXTRA_PIP_REQUIREMENTS=openedx-completion-aggregator)",
        optional=True),
    Requirement(
        "api_key", "credential", "EDX_API_KEY", "a fast enrollment list",
        "GET /api/enrollment/v1/enrollments with the token and X-Edx-Api-Key is never throttled",
        "set EDX_API_KEY in the LMS settings and the same value in api_key; without it the "
        "enrollment list is throttled to 120 requests a minute (100 learners a request)",
        optional=True),
)

NEEDS = index(REQUIREMENTS)

# Block types a learner completes by viewing them (completion/services.py
# can_mark_block_complete_on_view: completable, no score, no custom completion): a presence
# pushed to one could be self-attested by opening the unit. Other types are checked per block
# by reading the course (a scored block is safe).
BLOCKS_COMPLETED_ON_VIEW = frozenset({"html"})
