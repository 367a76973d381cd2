"""The built-in sandbox platform: a simulated Moodle / Open edX / FUN (Dogwood) on loopback,
seeded with a realistic hybrid course, for the demo, the tests and the benchmarks.

Usage::

    with SandboxPlatform("moodle", learners=40, seed=7) as sb:
        sb.base_url, sb.token, sb.course_ids   # what a connector config needs
        sb.world                               # the ground truth, to compute expectations
        sb.pushes                              # every push received, in order

Options beyond the common ones: ``missing_functions`` (Moodle functions the token may not
call: accessexception), ``missing_capabilities`` (capabilities the service user's role lacks:
Moodle's refusals and silent omissions, sandbox/moodle_caps.py), ``retry_after`` (the 429 header, seconds), ``slow_delay`` (seconds),
``token_ttl`` (Open edX JWT lifetime), ``now`` (fix the clock the seed is relative to),
``latency`` (seconds each answer waits: a real platform's round trip).
Open edX: ``global_staff`` (the service user's staff flag), ``restricted`` (a restricted OAuth2
application), ``completion_tracking`` (the waffle switch), ``aggregator`` (the plugin is
installed), ``auto_certificates`` and ``certificate_delay`` (world seconds from passing to the
certificate), ``throttle`` (the enrollment API's 40/120 per minute) on ``clock``.
Credentials: ``token`` (Moodle wstoken), ``password`` (service user ``badgebridge``, service
``badge_bridge``, for /login/token.php), ``client_id``/``client_secret`` (Open edX OAuth2),
``api_key`` (X-Edx-Api-Key). ``mutate(n)`` advances n learners thread-safely;
``view_block(username, usage)`` is a learner opening a unit, ``run_aggregator_service()`` the
plugin's cron, ``write_reports(folder)`` FUN's instructor-dashboard CSV reports.

Faults (``fault_rate``) are seeded and transient: a request that got a 500, a 429, a
truncated body or a wrong-typed field is served clean when retried. Pushes (completion
override, attendance status, completion-batch) are only faulted *before* being applied
(500/429/slow), so a failed push never changed the world.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import SandboxPlatform
    from .world import Activity, ActivityState, AttendanceSession, Course, Learner, Progress, World

__all__ = [
    "Activity",
    "ActivityState",
    "AttendanceSession",
    "Course",
    "Learner",
    "Progress",
    "SandboxPlatform",
    "World",
]


def __getattr__(name: str) -> Any:
    """Names load their module on first use, so `badge-bridge --help` (which reads the
    `sandbox` command from `sandbox.command`) does not start building a platform."""
    if name == "SandboxPlatform":
        return import_module(".server", __name__).SandboxPlatform
    if name in __all__:
        return getattr(import_module(".world", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
