"""`badge-bridge sandbox`: run the simulated platform in the foreground, print how to
point a source at it (URL, credentials, a ready-to-paste TOML snippet), serve until Ctrl-C."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from .server import SandboxPlatform


def snippet(sb: SandboxPlatform, source_id: str,
            reports_dir: Path | None = None) -> tuple[str, list[str]]:
    """The `[sources.X]` TOML block and the `export` lines carrying its secrets."""
    courses = json.dumps(sb.course_ids, ensure_ascii=False)
    env = f"BADGE_BRIDGE_{source_id.upper()}"
    if sb.dialect == "moodle":
        toml = (f"[sources.{source_id}]\nkind = \"moodle\"\nurl = \"{sb.base_url}\"\n"
                f"token = {{ env = \"{env}_TOKEN\" }}\ncourses = {courses}\n")
        return toml, [f"export {env}_TOKEN={sb.token}"]
    if sb.dialect == "fun":
        toml = (f"[sources.{source_id}]\nkind = \"fun\"\nurl = \"{sb.base_url}\"\n"
                f"api_key = {{ env = \"{env}_API_KEY\" }}\ncourses = {courses}\n"
                f"reports_dir = \"{reports_dir or 'reports'}\"\n")
        return toml, [f"export {env}_API_KEY={sb.api_key}  # X-Edx-Api-Key, /fun/api/grades/"]
    toml = (f"[sources.{source_id}]\nkind = \"openedx\"\nurl = \"{sb.base_url}\"\n"
            f"client_id = \"{sb.client_id}\"\n"
            f"client_secret = {{ env = \"{env}_CLIENT_SECRET\" }}\n"
            f"api_key = {{ env = \"{env}_API_KEY\" }}\ncourses = {courses}\n")
    return toml, [f"export {env}_CLIENT_SECRET={sb.client_secret}",
                  f"export {env}_API_KEY={sb.api_key}  # X-Edx-Api-Key, sent with the token"]


@click.command("sandbox")
@click.option("--dialect", type=click.Choice(["moodle", "openedx", "fun"]), default="moodle",
              show_default=True, help="Which platform to imitate.")
@click.option("--learners", type=click.IntRange(1), default=40, show_default=True)
@click.option("--courses", type=click.IntRange(1), default=1, show_default=True,
              help="Number of courses (scale profile; ids 42, 43, …).")
@click.option("--fault-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of requests answered with a transient fault.")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port to listen on (0 = any free port).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--profile", type=click.Choice(["demo", "scale"]), default="demo",
              show_default=True, help="demo: one hybrid course; scale: N learners, M courses.")
@click.option("--latency-ms", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Milliseconds each answer waits, as a real platform's round trip (~13.5).")
@click.option("--reports-dir", type=click.Path(file_okay=False, path_type=Path),
              help="fun: write the instructor dashboard's CSV reports (grades, profiles) here.")
def sandbox(dialect: str, learners: int, courses: int, fault_rate: float, seed: int,
            port: int, host: str, profile: str, latency_ms: float, reports_dir: Path | None) -> None:
    """Run the built-in sandbox platform (simulated Moodle / Open edX / FUN)."""
    from .server import SandboxPlatform

    sb = SandboxPlatform(dialect, learners=learners, courses=courses, seed=seed,
                         fault_rate=fault_rate, port=port, host=host, profile=profile,
                         latency=latency_ms / 1000).start()
    source_id = f"sandbox_{dialect}"
    toml, exports = snippet(sb, source_id, reports_dir)
    c = sb.world.courses[0]
    done = sum(sb.world.course_completed(u, c) for u in sb.world.learners)
    click.echo(f"Sandbox {dialect} ({profile}, {len(sb.world.learners)} learners, seed {seed}) "
               f"listening on {sb.base_url}")
    click.echo(f"  course {sb.course_ids[0]}: {done} learners have completed it")
    if dialect == "moodle":
        click.echo(f"  wstoken: {sb.token}")
    elif dialect == "fun":
        click.echo(f"  X-Edx-Api-Key: {sb.api_key}")
        for path in sb.write_reports(reports_dir) if reports_dir else []:
            click.echo(f"  report written: {path}")
    else:
        click.echo(f"  client_id: {sb.client_id}\n  client_secret: {sb.client_secret}")
    click.echo("\nSecrets (run in the shell that starts badge-bridge):")
    for line in exports:
        click.echo(f"  {line}")
    click.echo("\nConfig (paste into your badge-bridge TOML):\n")
    click.echo(toml)
    click.echo("Serving until Ctrl-C.")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("\nStopping the sandbox.")
    finally:
        sb.stop()
