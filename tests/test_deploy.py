"""The files shipped to run badge-bridge as a service parse and name what exists.

No container can be built here (no registry), so the Containerfile and the compose file are
checked for what can be checked without building: every instruction known, every COPY
source present, the extras installed exist, every command they run is a real CLI command
with real options, nothing runs as root, and no secret is written in them.
"""

from __future__ import annotations

import configparser
import json
import shlex
import tomllib
from pathlib import Path

import click
import pytest
import yaml

from cli import main

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
             "PrivateTmp": "yes", "UMask": "0077", "CapabilityBoundingSet": ""}


def assert_cli_accepts(args: list[str]) -> None:
    """`args` (after the program name) names a command and only options it declares."""
    command: click.Command = main
    ctx = click.Context(main)
    rest = list(args)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, f"no command {rest[0]!r} in {args}"
        command, rest = sub, rest[1:]
    declared = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    for word in rest:
        if word.startswith("--"):
            assert word.split("=")[0] in declared, f"{args}: {word} is not an option of {command.name}"


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser


def test_two_unit_files_daemon_and_web() -> None:
    assert [p.name for p in UNITS] == ["badge-bridge-web.service", "badge-bridge.service"]


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_unit_runs_a_real_command_as_its_own_user_hardened(path: Path) -> None:
    u = unit(path)
    assert set(u.sections()) == {"Unit", "Service", "Install"}
    service = u["Service"]
    assert service["User"] == "badge-bridge" and service["Group"] == "badge-bridge"
    assert service["EnvironmentFile"] == "/etc/badge-bridge/env"
    for key, value in HARDENING.items():
        assert service.get(key) == value, f"{path.name}: {key}"
    assert service["ReadWritePaths"] == "/var/lib/badge-bridge"
    for key in ("ExecStartPre", "ExecStart"):
        if key in service:
            program, *args = shlex.split(service[key])
            assert program == "/opt/badge-bridge/bin/badge-bridge"
            assert_cli_accepts(args)
    assert u["Install"]["WantedBy"] == "multi-user.target"


INSTRUCTIONS = {"FROM", "ENV", "RUN", "WORKDIR", "COPY", "USER", "VOLUME", "EXPOSE", "HEALTHCHECK",
                "ENTRYPOINT", "CMD", "ARG", "LABEL"}


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            out.append((word, rest.strip()))
            pending = ""
    return out


def test_containerfile_installs_the_project_and_runs_unprivileged() -> None:
    steps = instructions(DEPLOY / "Containerfile")
    assert {word for word, _ in steps} <= INSTRUCTIONS
    assert steps[0] == ("FROM", "python:3.11-slim")
    for word, args in steps:
        if word == "COPY":
            *sources, _ = args.split()
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"
    packages = {a.split()[0] for w, a in steps if w == "COPY" and (REPO / a.split()[0]).is_dir()}
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = set(project["tool"]["setuptools"]["packages"]["find"]["include"])
    assert {f"{p}*" for p in packages} == shipped, "the image must copy every package pyproject ships"
    install = next(a for w, a in steps if w == "RUN" and "pip install" in a)
    extras = install.split("[")[1].split("]")[0].split(",")
    assert set(extras) <= set(project["project"]["optional-dependencies"])
    assert ("USER", "badge-bridge") in steps
    entry = next(a for w, a in steps if w == "ENTRYPOINT")
    cmd = next(a for w, a in steps if w == "CMD")
    assert json.loads(entry) == ["badge-bridge"]
    assert_cli_accepts(json.loads(cmd))


def test_compose_runs_migrations_then_web_and_daemon_on_postgresql() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"db", "migrate", "web", "daemon"}
    assert services["db"]["image"].startswith("postgres:")
    build = services["migrate"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Containerfile"
    for name in ("migrate", "web", "daemon"):
        service = services[name]
        assert_cli_accepts(service["command"])
        assert service["env_file"] == ["env"], "secrets come from the env file, never the compose file"
        assert any(v.endswith(":/var/lib/badge-bridge") for v in service["volumes"])
    for name in ("web", "daemon"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]


def test_no_secret_is_written_in_the_shipped_files() -> None:
    example = (DEPLOY / "env.example").read_text(encoding="utf-8")
    values = [line.split("=", 1)[1] for line in example.splitlines()
              if line and not line.startswith("#")]
    assert all(v == "" or "CHANGE-ME" in v for v in values)
    ignored = (DEPLOY / ".gitignore").read_text(encoding="utf-8").split()
    assert {"env", "db_password", "config.toml"} <= set(ignored)


def _closure(name: str, extras: frozenset[str] = frozenset()) -> set[str]:
    """Distributions `name` (with `extras`) pulls in, read from the installed metadata."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [(canonicalize_name(name), extras)]
    while todo:
        dist, wanted = todo.pop()
        if dist in seen:
            continue
        seen.add(dist)
        try:
            reqs = requires(dist) or []
        except PackageNotFoundError:
            continue
        for raw in reqs:
            req = Requirement(raw)
            env = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(e) for e in env):
                todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return seen


def test_a_single_host_install_pulls_neither_celery_nor_psycopg_nor_test_tools() -> None:
    base = _closure("badge-bridge")
    assert not base & {"celery", "psycopg", "psycopg-binary", "pytest", "playwright", "hypothesis",
                       "mypy", "ruff"}, sorted(base)
    assert {"celery"} <= _closure("badge-bridge", frozenset({"celery"}))
    assert {"psycopg"} <= _closure("badge-bridge", frozenset({"postgres"}))
