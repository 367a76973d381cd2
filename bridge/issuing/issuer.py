"""The issuer: every document of an award (OB 2.0 hosted/signed, OB 3.0) built, signed, baked.

One object per process, shared by the web app, the mailer and the demo; it caches what
depends only on the issuer, a key or a badge, and the signed credential of an award.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

from bridge.config import Config
from bridge.errors import NotFound
from bridge.issuing import bake, did, ob2, ob3, status
from bridge.issuing.keys import Key, load_keyring
from bridge.issuing.links import LinkSigner
from bridge.issuing.urls import Urls
from bridge.store import Award, Badge, Store

__all__ = ["Issuer", "Format", "FORMATS"]

Format = Literal["ob2.png", "ob2.svg", "ob2-signed.png", "ob2-signed.svg", "ob3.png", "ob3.svg"]
FORMATS: tuple[Format, ...] = ("ob2.png", "ob2.svg", "ob2-signed.png", "ob2-signed.svg",
                               "ob3.png", "ob3.svg")


class Issuer:
    def __init__(self, config: Config, store: Store, *, keep_badges: bool = False) -> None:
        """`keep_badges`: read each badge once (a run's delivery, where badges do not change)."""
        self.config = config
        self.store = store
        self._badges: dict[str, Badge] | None = {} if keep_badges else None
        self.urls = Urls(config.bridge.public_url)
        self.lang = config.bridge.default_language
        self._signed = lru_cache(maxsize=1024)(self._sign_credential)
        self._status_list = lru_cache(maxsize=8)(self._sign_status_list)
        self._achievements: dict[tuple[str, str, datetime, str], dict[str, Any]] = {}
        self._issuer_profile = lru_cache(maxsize=4)(self._build_issuer_profile)

    @cached_property
    def links(self) -> LinkSigner:
        """Signs the links mailed to learners (their name choice)."""
        return LinkSigner(self.config.bridge.keys_path)

    # -- keys and identity -------------------------------------------------
    @cached_property
    def _keys_path(self) -> Path:
        return self.config.bridge.keys_path

    def keys(self, kind: Literal["rsa", "ed25519"]) -> list[Key]:
        return load_keyring(self._keys_path).of(kind)

    def key(self, kind: Literal["rsa", "ed25519"]) -> Key:
        return load_keyring(self._keys_path).current(kind)

    def did(self) -> str:
        if self.config.bridge.ob3_issuer == "did:key":
            return did.did_key(self.key("ed25519"))
        return did.did_web(self.config.bridge.public_url)

    def did_document(self) -> dict[str, Any]:
        return did.did_document(did.did_web(self.config.bridge.public_url), self.keys("ed25519"))

    def _method(self) -> tuple[Key, str]:
        key = self.key("ed25519")
        return key, did.verification_method(self.did(), key)

    # -- OB 2.0 --------------------------------------------------------------
    def ob2_issuer(self) -> dict[str, Any]:
        keys = self.keys("rsa")
        return ob2.issuer_profile(self.urls, self.config.issuer, keys[-1] if keys else None)

    def badge(self, badge_id: str) -> Badge:
        if self._badges is not None and badge_id in self._badges:
            return self._badges[badge_id]
        badge = self.store.awards.badge(badge_id)
        if badge is None:
            raise NotFound(f"no badge {badge_id}")
        if self._badges is not None:
            self._badges[badge_id] = badge
        return badge

    def ob2_hosted(self, award: Award) -> dict[str, Any]:
        return ob2.assertion(self.urls, award)

    def ob2_signed(self, award: Award) -> str:
        return ob2.signed_assertion(self.urls, award, self.key("rsa"))

    def ob2_revocation_list(self) -> dict[str, Any]:
        return ob2.revocation_list(self.urls, self.store.awards.revoked())

    # -- OB 3.0 --------------------------------------------------------------
    def achievement(self, badge_id: str, lang: str | None = None) -> dict[str, Any]:
        """In `lang` (default: the issuer's default language); built once per badge version
        and language (what every credential of the badge embeds: not to be modified)."""
        badge = self.badge(badge_id)
        key = (badge_id, badge.version, badge.updated_at, lang or self.lang)  # a new publication: anew
        found = self._achievements.get(key)
        if found is None:
            if len(self._achievements) >= 256:
                self._achievements.clear()
            found = self._achievements[key] = ob3.achievement(self.urls, badge_id, badge.definition,
                                                              lang or self.lang)
        return found

    def ob3_unsigned(self, award: Award) -> dict[str, Any]:
        """The badge's texts are in the language the award was issued in."""
        issuer = self._issuer_profile(self.did())
        return ob3.credential(self.urls, issuer, award, self.achievement(award.badge_id, award.lang),
                              award.status_slot)

    def _build_issuer_profile(self, did: str) -> dict[str, Any]:
        return ob3.issuer_profile(self.urls, self.config.issuer, did)

    def ob3_credential(self, award: Award) -> dict[str, Any]:
        """Signed with eddsa-rdfc-2022, `created` = issue time: the same bytes every time."""
        key, method = self._method()
        text = self._signed(json.dumps(self.ob3_unsigned(award), sort_keys=True),
                            key.kid, method)
        return json.loads(text)

    def _sign_credential(self, unsigned_json: str, kid: str, method: str) -> str:
        from bridge.issuing import dataintegrity  # pyld + pyoxigraph (~25 MB): when first signed

        unsigned = json.loads(unsigned_json)
        signed = dataintegrity.sign(unsigned, self.key("ed25519").private,  # type: ignore[arg-type]
                                    method, unsigned["validFrom"])
        return json.dumps(signed)

    def ob3_jwt(self, award: Award) -> str:
        key, method = self._method()
        return ob3.vc_jwt(self.ob3_unsigned(award), key, method)

    def status_list_credential(self, list_id: int) -> dict[str, Any]:
        key, method = self._method()
        return json.loads(self._status_list(list_id, tuple(self.store.awards.revoked_slots(list_id)),
                                            key.kid, method))

    def _sign_status_list(self, list_id: int, revoked: tuple[int, ...], kid: str, method: str) -> str:
        now = datetime.now(UTC).replace(microsecond=0)
        doc = ob3.status_list_credential(self.urls, self.did(), list_id,
                                         status.encoded_list(list(revoked)), now)
        from bridge.issuing import dataintegrity

        signed = dataintegrity.sign(doc, self.key("ed25519").private,  # type: ignore[arg-type]
                                    method, doc["validFrom"])
        return json.dumps(signed)

    # -- images ------------------------------------------------------------
    def baked(self, award: Award, fmt: Format) -> bytes:
        """The badge image with the award baked in, in one of FORMATS; NotFound for a PNG of a
        badge whose image is SVG."""
        badge = self.badge(award.badge_id)
        if badge.image is None or badge.image_type is None:
            raise NotFound(f"badge {badge.id} has no image")
        kind, ext = fmt.split(".")
        doc: dict[str, Any] | str = (self.ob2_hosted(award) if kind == "ob2"
                                     else self.ob2_signed(award) if kind == "ob2-signed"
                                     else self.ob3_credential(award))
        if ext == "png" and badge.image_type == "image/png":
            return bake.bake_ob3_png(badge.image, doc) if kind == "ob3" else bake.bake_png(badge.image, doc)
        if ext == "png":
            raise NotFound(f"badge {badge.id} has an SVG image: bake it as SVG")
        svg = bake.as_svg(badge.image, badge.image_type)
        return bake.bake_ob3_svg(svg, doc) if kind == "ob3" else bake.bake_svg(svg, doc)
