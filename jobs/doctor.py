"""`badge-bridge doctor` as a library: what a setup lacks, found without changing anything.

`diagnose(config, sources=None)` probes the bridge's own parts (the store, the signing keys,
SMTP, the public URL), then runs each source's connector probes (its optional `probes(pushed)`,
declared next to what that connector needs; a connector without them is asked its `check()`).
The CLI and the admin dashboard show the same findings.
"""

from __future__ import annotations

import smtplib
import ssl
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import requests

from bridge.config import Config, SourceConfig
from bridge.errors import BridgeError, ConfigError, SourceError
from bridge.i18n import gettext as _
from bridge.i18n import ngettext
from bridge.model import Finding, FindingStatus, Probe

__all__ = ["diagnose", "core_probes", "source_probes", "run_probes", "failed", "pushed_to"]

OK, FAIL, WARN = FindingStatus.ok, FindingStatus.fail, FindingStatus.warn
PROBE_RETRIES = 1  # a probe says what it sees now: no long backoff on a down host


def diagnose(config: Config, sources: Sequence[str] | None = None, *,
             registry: Any = None, connectors: dict[str, Any] | None = None,
             core: bool = True) -> list[Finding]:
    """Every finding about `config`: the bridge's own parts (unless `core` is False or some
    `sources` are named), then each enabled source (only `sources` when given). `connectors`
    replaces the ones the registry would make (tests, the admin console's own)."""
    if sources is not None:
        unknown = sorted(set(sources) - set(config.sources))
        if unknown:
            raise ConfigError(_("no source {source}; configured sources: {known}").format(
                source=", ".join(unknown), known=", ".join(sorted(config.sources)) or "-"),
                file=str(config.file), key="sources")
    probes = core_probes(config) if core and sources is None else []
    out = run_probes(probes)
    for sid in sources if sources is not None else list(config.sources):
        source = config.sources[sid]
        if not source.enabled:
            continue
        out += source_findings(config, sid, source, registry=registry,
                               connector=(connectors or {}).get(sid))
    return out


def failed(findings: Iterable[Finding]) -> bool:
    """Something a configured feature needs is missing."""
    return any(f.status is FAIL for f in findings)


def run_probes(probes: Iterable[Probe], source: str = "") -> list[Finding]:
    """Each probe's findings in order; a probe that raises is one ✗ finding with its fix."""
    out: list[Finding] = []
    for probe in probes:
        try:
            found = list(probe.run())
        except SourceError as exc:
            found = [Finding(FAIL, probe.name, exc.detail, exc.fix or "", source=source)]
        except BridgeError as exc:
            found = [Finding(FAIL, probe.name, str(exc), source=source)]
        out += [f if f.source or not source else _with_source(f, source) for f in found]
    return out


def _with_source(f: Finding, source: str) -> Finding:
    return Finding(f.status, f.subject, f.detail, f.fix, f.feature, source)


def pushed_to(config: Config, sid: str) -> list[tuple[str, str]]:
    """(course, target) of every push route of the config that pushes to source `sid`."""
    return [(route.course, route.target) for source in config.sources.values()
            for route in getattr(source, "push", None) or [] if route.to == sid]


def source_findings(config: Config, sid: str, source: SourceConfig, *, registry: Any = None,
                    connector: Any = None) -> list[Finding]:
    """One source's findings: its secrets, then its connector's probes."""
    if registry is None:
        from connectors.registry import REGISTRY

        registry = REGISTRY
    try:
        for _name, value in source:
            if hasattr(value, "get_secret_value"):
                value.get_secret_value()
    except ConfigError as exc:
        return [Finding(FAIL, _("secret {key}").format(key=exc.key or ""), exc.detail,
                        _("set it, or write the secret in the config as {{ env = \"NAME\" }} "
                          "with NAME set"), source=sid)]
    own = connector is None
    if own:
        connector = registry.make(sid, source)
        http = getattr(connector, "http", None)
        if http is not None:
            http.retries = min(http.retries, PROBE_RETRIES)
    try:
        return run_probes(source_probes(connector, pushed_to(config, sid)), sid)
    finally:
        if own:
            connector.close()


def source_probes(connector: Any, pushed: Sequence[tuple[str, str]] = ()) -> list[Probe]:
    """The connector's own probes, or its `check()` as one probe."""
    declared = getattr(connector, "probes", None)
    if declared is not None:
        return list(declared(pushed))

    def check() -> Iterator[Finding]:
        problems = connector.check()
        for problem in problems:
            yield Finding(FAIL, _("start-up check"), problem)
        if not problems:
            yield Finding(OK, _("start-up check"), _("no problem found"))
    return [Probe("check", check)]


# -- the bridge's own parts -------------------------------------------------------
def core_probes(config: Config) -> list[Probe]:
    return [Probe("store", lambda: [store_finding(config)]),
            Probe("keys", lambda: keys_findings(config.bridge.keys_path)),
            Probe("smtp", lambda: [smtp_finding(config)]),
            Probe("public_url", lambda: public_url_findings(config.bridge.public_url))]


def store_finding(config: Config) -> Finding:
    """Reachable, and at the code's schema revision; opened without migrating."""
    from bridge.store import db

    url = config.bridge.db_url
    subject = _("store")
    upgrade = _("run badge-bridge db upgrade (any command that opens the store does it too)")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:") \
            and not Path(url[len("sqlite:///"):]).exists():
        return Finding(WARN, subject, _("not created yet"), upgrade)
    try:
        current, head, known = db.schema_state(url)
    except BridgeError as exc:
        return Finding(FAIL, subject, _("unreachable: {reason}").format(reason=exc),
                       _("check bridge.database_url and that the database server runs"))
    if current == head:
        return Finding(OK, subject, _("reachable, schema at revision {revision}").format(
            revision=current))
    if current is None:
        return Finding(WARN, subject, _("reachable, empty (no schema yet)"), upgrade)
    if not known:
        return Finding(FAIL, subject, _("schema at revision {revision}, which this version does "
                                        "not know").format(revision=current),
                       _("run the badge-bridge version that wrote it, or restore a backup"))
    return Finding(WARN, subject, _("schema at revision {revision}, the code's is {head}").format(
        revision=current, head=head), upgrade)


def keys_findings(folder: Path) -> list[Finding]:
    """The signing keys: present, parseable, readable by their owner only."""
    from bridge.issuing.keys import KINDS

    subject = _("signing keys")
    generate = _("run badge-bridge keys generate (the first award makes them otherwise)")
    if not folder.is_dir():
        return [Finding(WARN, subject, _("none yet in {folder}").format(folder=folder), generate)]
    out: list[Finding] = []
    pems = sorted(folder.glob("*.pem"))
    kinds = {p.stem.split("-", 1)[0] for p in pems}
    open_to_others = [p for p in [folder, *pems] if p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)]
    for path in open_to_others:
        out.append(Finding(FAIL, subject, _("{path} can be read by other users").format(path=path),
                           _("chmod {mode} {path}").format(mode="700" if path.is_dir() else "600",
                                                           path=path)))
    try:
        from bridge.issuing.keys import load_keyring

        load_keyring(folder)
    except (BridgeError, ValueError, OSError) as exc:
        out.append(Finding(FAIL, subject, _("a key cannot be read: {reason}").format(reason=exc),
                           _("remove or replace the file, then run badge-bridge keys generate")))
    missing = [k for k in KINDS if k not in kinds]
    if missing:
        out.append(Finding(WARN, subject, _("no {kinds} key yet in {folder}").format(
            kinds=", ".join(missing), folder=folder), generate))
    if not out:
        out.append(Finding(OK, subject, ngettext("{count} key in {folder}, owner only",
                                                 "{count} keys in {folder}, owner only",
                                                 len(pems)).format(count=len(pems), folder=folder)))
    return out


def smtp_finding(config: Config) -> Finding:
    """Connect, TLS as configured, authenticate if a user is set; QUIT: no message is sent."""
    smtp = config.smtp
    subject = _("SMTP {server}").format(server=f"{smtp.host}:{smtp.port}")
    fix_where = _("check [smtp] host, port and security")
    client: smtplib.SMTP | None = None
    step = _("connect")
    try:
        if smtp.security == "tls":
            step = _("TLS")
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=min(smtp.timeout, 10.0),
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=min(smtp.timeout, 10.0))
        client.ehlo()
        if smtp.security == "starttls":
            step = _("STARTTLS")
            if not client.has_extn("starttls"):
                return Finding(FAIL, subject, _("the server does not offer STARTTLS"),
                               _("set [smtp] security to \"none\" or \"tls\" as the server expects, "
                                 "or use a server that offers STARTTLS"), _("emails"))
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if smtp.username:
            step = _("authentication")
            client.login(smtp.username, smtp.password.get_secret_value() if smtp.password else "")
        done = [_("connected")]
        if smtp.security != "none":
            done.append(_("TLS"))
        if smtp.username:
            done.append(_("authenticated as {user}").format(user=smtp.username))
        return Finding(OK, subject, ", ".join(done) + _("; no message sent"))
    except smtplib.SMTPAuthenticationError as exc:
        return Finding(FAIL, subject, _("authentication refused: {code} {reason}").format(
            code=exc.smtp_code, reason=_text(exc.smtp_error)),
            _("check [smtp] username and password"), _("emails"))
    except smtplib.SMTPNotSupportedError:
        return Finding(FAIL, subject, _("the server offers no authentication at this step ({step})")
                       .format(step=step), _("remove [smtp] username, or set security to "
                                             "\"starttls\" if the server authenticates after TLS"),
                       _("emails"))
    except ssl.SSLError as exc:
        return Finding(FAIL, subject, _("TLS failed: {reason}").format(reason=exc.reason or exc),
                       fix_where, _("emails"))
    except (OSError, smtplib.SMTPException) as exc:
        return Finding(FAIL, subject, _("{step} failed: {reason}").format(
            step=step, reason=_text(exc)), fix_where, _("emails"))
    finally:
        if client is not None:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()


def _text(value: Any) -> str:
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split()) or type(value).__name__


def public_url_findings(url: str, get: Callable[..., Any] | None = None) -> list[Finding]:
    """⚠ only when the URL does not answer from here: a reverse proxy may hide it from the
    machine the bridge runs on, so nothing else is said."""
    get = get or requests.get
    try:
        get(url + "/healthz", timeout=5, allow_redirects=False)
    except (OSError, requests.RequestException) as exc:
        reason = type(exc).__name__
        return [Finding(WARN, _("public URL {url}").format(url=url),
                        _("does not answer from this machine ({reason})").format(reason=reason),
                        _("check bridge.public_url: badges and emails link to it (it may only be "
                          "reachable from outside, behind a reverse proxy)"))]
    return []
