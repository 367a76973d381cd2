"""`badge-bridge keys generate|rotate|list`: the issuer's signing keys in the data directory.

Only public information is printed (kind, key id, file name); private keys never are.
"""

from __future__ import annotations

from pathlib import Path

import click

from bridge.i18n import gettext as _
from bridge.issuing.keys import KINDS, KeyKind, generate_key, load_keyring

from .common import config_option, handle_errors, load

__all__ = ["keys"]
_KIND = click.option("--kind", type=click.Choice(["all", *KINDS]), default="all", show_default=True,
                     help="rsa: OB 2.0 JWS RS256; ed25519: OB 3.0.")


def _keys_dir(config_path: Path | None) -> Path:
    return load(config_path).bridge.keys_path


def _kinds(kind: str) -> tuple[KeyKind, ...]:
    return KINDS if kind == "all" else (kind,)  # type: ignore[return-value]


@click.group()
def keys() -> None:
    """Manage the issuer's signing keys."""


@keys.command()
@config_option
@handle_errors
@_KIND
def generate(config_path: Path | None, kind: str) -> None:
    """Create the signing keys that do not exist yet (existing keys are left alone)."""
    folder = _keys_dir(config_path)
    ring = load_keyring(folder)
    for k in _kinds(kind):
        if ring.of(k):
            click.echo(_("{kind}: already present ({kid}); use `keys rotate` for a new one").format(
                kind=k, kid=ring.current(k).kid))
            continue
        key = generate_key(folder, k)
        click.echo(_("{kind}: generated {kid} in {folder}").format(kind=k, kid=key.kid, folder=folder))


@keys.command()
@config_option
@handle_errors
@_KIND
def rotate(config_path: Path | None, kind: str) -> None:
    """Sign with a new key from now on; older keys stay published so old badges still verify."""
    folder = _keys_dir(config_path)
    for k in _kinds(kind):
        key = generate_key(folder, k)
        click.echo(_("{kind}: now signing with {kid} ({count} published)").format(
            kind=k, kid=key.kid, count=len(load_keyring(folder).of(k))))


@keys.command("list")
@config_option
@handle_errors
def list_keys(config_path: Path | None) -> None:
    """Key ids, kinds and creation times; the newest of each kind signs."""
    ring = load_keyring(_keys_dir(config_path))
    for key in ring.keys:
        current = " " + _("(signing)") if ring.current(key.kind) is key else ""
        click.echo(f"{key.kind}\t{key.kid}\t{key.created}{current}")
