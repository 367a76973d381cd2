"""The config file: TOML validated into frozen pydantic models.

Errors name the file, the key and its line. Secrets are `SecretStr`, read from the file,
an environment variable (`{ env = "NAME" }`) or a file (`{ file = "path" }`), never printed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Protocol, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from bridge import i18n
from bridge.errors import ConfigError, NotFound, TomlError
from bridge.tomlloc import Locator, load_toml

__all__ = [
    "Config",
    "DeferredSecret",
    "BridgeSettings",
    "IssuerSettings",
    "SmtpSettings",
    "WebSettings",
    "SourceConfig",
    "HttpSourceConfig",
    "SourceKinds",
    "load_config",
    "resolve_secret",
]


def resolve_secret(value: Any, base: Path) -> Any:
    """`{env = NAME}` / `{file = PATH}` -> the secret's text; anything else unchanged.

    ValueError when the name or path is not text, the variable is unset, the file unreadable,
    or the secret is empty (an empty secret would open what it guards)."""
    if isinstance(value, dict) and set(value) == {"env"}:
        name = value["env"]
        if not isinstance(name, str) or not name or "=" in name or "\0" in name:
            raise ValueError('expected { env = "NAME" }, the name of an environment variable')
        if name not in os.environ:
            raise ValueError(f"environment variable {name} is not set")
        if not os.environ[name].strip():
            raise ValueError(f"environment variable {name} is empty; a secret cannot be empty")
        return os.environ[name]
    if isinstance(value, dict) and set(value) == {"file"}:
        if not isinstance(value["file"], str) or not value["file"] or "\0" in value["file"]:
            raise ValueError('expected { file = "PATH" }, the path of a file holding the secret')
        path = Path(value["file"])
        path = path if path.is_absolute() else base / path
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ValueError(f"secret file {path} is not UTF-8 text") from None
        if not text:
            raise ValueError(f"secret file {path} is empty; a secret cannot be empty")
        return text
    return value


class DeferredSecret(SecretStr):
    """A source's secret given as `{ env = … }` or `{ file = … }`, read when first used: the
    commands that talk to no platform start without the sources' secrets."""

    def __init__(self, ref: dict[str, str], base: Path, file: str, key: str, line: int | None) -> None:
        super().__init__("")
        self._ref, self._base, self._where = ref, base, (file, key, line)

    def get_secret_value(self) -> str:
        try:
            return str(resolve_secret(self._ref, self._base))
        except ValueError as exc:
            file, key, line = self._where
            raise ConfigError(str(exc), file=file, key=key, line=line) from None


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BridgeSettings(_Model):
    public_url: str = Field("http://127.0.0.1:8000", description="base of every URL inside badges")
    data_dir: Path = Path(".badge-bridge")
    database_url: str | None = None
    rules_dir: Path = Path("rules")
    default_language: str = Field("fr", description="a language with a catalog (bridge.i18n)")
    templates_dir: Path | None = None
    keys_dir: Path | None = Field(None, description="signing keys; default DATA_DIR/keys")
    ob3_issuer: Literal["did:web", "did:key"] = "did:web"
    hide_recipient_name: bool = False
    renewal_notice: int = Field(30, ge=0, description="days before expiry a learner is told; 0: never")
    wallet_offers: bool = Field(False, description="offer OB 3.0 credentials to wallets (OpenID4VCI)")
    timezone: str = Field("Europe/Paris", description="IANA zone of times written without an offset")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone (e.g. Europe/Paris)") from None
        return v

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("default_language")
    @classmethod
    def _has_catalog(cls, v: str) -> str:
        if v not in i18n.languages():
            raise ValueError(f"no catalog for {v!r}; languages with one: {', '.join(i18n.languages())} "
                             f"(docs/translating.md says how to add one)")
        return v

    @field_validator("public_url")
    @classmethod
    def _strip(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    @property
    def keys_path(self) -> Path:
        keys = self.keys_dir or Path("keys")
        return keys if keys.is_absolute() else self.data_dir / keys

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'bridge.db'}"


class IssuerSettings(_Model):
    name: str = "badge-bridge"
    url: str = "https://example.org"
    email: str = "badges@example.org"
    description: str = ""
    image: Path | None = None
    linkedin_organization_id: int | None = Field(
        None, description="the issuer's LinkedIn page id: certifications added from a badge link to it")


class SmtpSettings(_Model):
    host: str = "127.0.0.1"
    port: int = 25
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = "badges@example.org"
    from_name: str = "badge-bridge"
    timeout: float = 30.0
    max_attempts: int = Field(8, ge=1)
    connections: int = Field(1, ge=1, le=32)  # SMTP sessions sending at once


class WebSettings(_Model):
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(1, ge=1, le=64)  # processes serving the app (one core each)
    admin_token: SecretStr | None = None
    # /metrics answers the admin token, or this one (a scraper need not hold the admin's).
    metrics_token: SecretStr | None = None
    ready_max_age: int = Field(
        1800, ge=60, description="seconds: /readyz fails when a source's last finished run is "
        "older (a few times the daemon's --every)")


class SourceConfig(BaseModel):
    """Base of every connector's own config model; `kind` picks the connector."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    enabled: bool = True


class HttpSourceConfig(SourceConfig):
    """Base of the sources reached over HTTP: the base URL and the client's retry policy."""

    url: str
    parallel: int = Field(4, ge=1, le=32, description="bound of concurrent per-learner requests")
    timeout: float = Field(30.0, gt=0)
    retries: int = Field(5, ge=0, le=20)
    backoff: float = Field(0.5, ge=0)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")


class SourceKinds(Protocol):
    """What config loading needs of the connector registry (passed in, never imported here)."""

    def config_model(self, kind: str) -> type[SourceConfig]:
        """The config model of a source kind; NotFound naming the known kinds otherwise."""
        ...


class Config(_Model):
    file: Path
    bridge: BridgeSettings = BridgeSettings()
    issuer: IssuerSettings = IssuerSettings()
    smtp: SmtpSettings = SmtpSettings()
    web: WebSettings = WebSettings()
    sources: dict[str, SourceConfig] = Field(default_factory=dict)

    def resolve_source_secrets(self) -> None:
        """Read every source secret now (ConfigError naming the first one that cannot be read),
        for the commands that talk to the platforms."""
        for source in self.sources.values():
            for _name, value in source:
                if isinstance(value, DeferredSecret):
                    value.get_secret_value()

    def source_courses(self) -> dict[str, set[str] | None]:
        """Source id -> configured course ids (None: any), for rule validation."""
        out: dict[str, set[str] | None] = {}
        for sid, src in self.sources.items():
            courses = getattr(src, "courses", None)
            out[sid] = {str(c) for c in courses} if courses else None
        return out


def _loc(err: Any) -> tuple[str | int, ...]:
    return tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))


def _raise(file: str, locator: Locator, prefix: tuple[str | int, ...], exc: ValidationError) -> None:
    err = exc.errors(include_url=False, include_input=False)[0]
    path = prefix + _loc(err)
    raise ConfigError(err["msg"], file=file, key=".".join(str(p) for p in path),
                      line=locator.line(path)) from None


def load_config(path: str | Path | None, kinds: SourceKinds, *, secrets: bool = True) -> Config:
    """Read, resolve secrets, validate; relative paths are taken from the file's folder.

    Each source is validated by the model its kind's connector declares, found in `kinds`.
    `secrets=False`: the sources' secrets are read when first used, not now."""
    if path is None:
        path = os.environ.get("BADGE_BRIDGE_CONFIG")
        if not path:
            raise ConfigError("no config file: pass --config FILE or set BADGE_BRIDGE_CONFIG")
    path = Path(path)
    file = str(path)
    try:
        data, locator = load_toml(path)
    except FileNotFoundError:
        raise ConfigError("file not found", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=file) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=file, line=line) from None
    except TomlError as exc:
        raise ConfigError(exc.detail, file=exc.file, line=exc.line) from None
    base = path.resolve().parent
    sources_raw = data.pop("sources", {}) or {}
    data = _resolve_secrets(data, base, file, locator, ())
    try:
        cfg = Config.model_validate({"file": path.resolve(), **data})
    except ValidationError as exc:
        _raise(file, locator, (), exc)
    for section in ("bridge", "issuer", "smtp", "web"):
        _refuse_empty_secrets(getattr(cfg, section), (section,), file, locator)
    if not isinstance(sources_raw, dict):
        raise ConfigError("expected a table of sources", file=file, key="sources",
                          line=locator.line(("sources",)))
    sources = {sid: _source(sid, raw, file, locator, kinds) for sid, raw in sources_raw.items()}
    cfg = cfg.model_copy(update={"sources": sources})
    if secrets:
        cfg.resolve_source_secrets()
    bridge = cfg.bridge.model_copy(update={
        "data_dir": _abs(cfg.bridge.data_dir, base),
        "rules_dir": _abs(cfg.bridge.rules_dir, base),
        "templates_dir": _abs(cfg.bridge.templates_dir, base) if cfg.bridge.templates_dir else None,
    })
    issuer = cfg.issuer.model_copy(update={
        "image": _abs(cfg.issuer.image, base) if cfg.issuer.image else None})
    return cfg.model_copy(update={"bridge": bridge, "issuer": issuer})


def _abs(p: Path, base: Path) -> Path:
    return p if p.is_absolute() else (base / p)


def _source(sid: str, raw: Any, file: str, locator: Locator, kinds: SourceKinds) -> SourceConfig:
    key = ("sources", sid)
    if not isinstance(raw, dict) or "kind" not in raw:
        raise ConfigError("field required", file=file, key=f"sources.{sid}.kind", line=locator.line(key))
    if not isinstance(raw["kind"], str):
        raise ConfigError('expected the kind as text (kind = "moodle")', file=file,
                          key=f"sources.{sid}.kind", line=locator.line(key + ("kind",)))
    try:
        config_model = kinds.config_model(raw["kind"])
    except NotFound as exc:
        raise ConfigError(str(exc), file=file, key=f"sources.{sid}.kind",
                          line=locator.line(key + ("kind",))) from None
    base = Path(file).resolve().parent
    secret_fields = {n for n, f in config_model.model_fields.items() if _is_secret(f.annotation)}
    raw = {name: DeferredSecret(value, base, file, f"sources.{sid}.{name}", locator.line(key + (name,)))
           if name in secret_fields and isinstance(value, dict) and set(value) in ({"env"}, {"file"})
           else _resolve_secrets(value, base, file, locator, key + (name,))
           for name, value in raw.items()}
    try:
        model = config_model.model_validate(raw)
    except ValidationError as exc:
        _raise(file, locator, key, exc)
        raise  # unreachable; keeps type checkers calm
    _refuse_empty_secrets(model, key, file, locator)
    # Paths in a source (a sign-in sheet folder…) are relative to the config file, like the rest.
    relative = {name: base / value for name, value in model if isinstance(value, Path) and not value.is_absolute()}
    return model.model_copy(update=relative) if relative else model


def _refuse_empty_secrets(model: BaseModel, prefix: tuple[str | int, ...], file: str,
                          locator: Locator) -> None:
    """An empty secret written in the file (`admin_token = ""`) is refused: it would open what
    it guards to anyone who sends nothing."""
    for name, value in model:
        if isinstance(value, SecretStr) and not isinstance(value, DeferredSecret) \
                and not value.get_secret_value().strip():
            raise ConfigError("a secret cannot be empty; remove the key or give it a value",
                              file=file, key=".".join(map(str, prefix + (name,))),
                              line=locator.line(prefix + (name,)))


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_is_secret(a) for a in get_args(annotation))


def _resolve_secrets(node: Any, base: Path, file: str, locator: Locator,
                     path: tuple[str | int, ...]) -> Any:
    if isinstance(node, dict):
        try:
            resolved = resolve_secret(node, base)
        except ValueError as exc:
            raise ConfigError(str(exc), file=file, key=".".join(map(str, path)),
                              line=locator.line(path)) from None
        if resolved is not node:
            return resolved
        return {k: _resolve_secrets(v, base, file, locator, path + (k,)) for k, v in node.items()}
    return node
