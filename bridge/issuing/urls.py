"""Every public URL badge-bridge puts inside a badge, in one place.

The web app routes and the issuer both read from here, so they can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

__all__ = ["Urls"]


@dataclass(frozen=True)
class Urls:
    base: str

    def issuer(self) -> str:
        return f"{self.base}/ob2/issuer"

    def badge(self, badge_id: str, lang: str | None = None) -> str:
        """The BadgeClass (and its page); with `lang`, the one in that language."""
        return f"{self.base}/ob2/badges/{quote(badge_id)}" + (f"?lang={lang}" if lang else "")

    def home(self) -> str:
        """The issuer's page: who they are, their badges."""
        return f"{self.base}/"

    def badge_image(self, badge_id: str) -> str:
        return f"{self.base}/ob2/badges/{quote(badge_id)}/image"

    def assertion(self, award_id: str) -> str:
        return f"{self.base}/ob2/assertions/{award_id}"

    def baked_png(self, award_id: str) -> str:
        return f"{self.base}/ob2/assertions/{award_id}/badge.png"

    def baked_svg(self, award_id: str) -> str:
        return f"{self.base}/ob2/assertions/{award_id}/badge.svg"

    def signed(self, award_id: str) -> str:
        """The JWS of the signed form (text), and its baked PNG beside it."""
        return f"{self.base}/ob2/assertions/{award_id}/signed"

    def signed_png(self, award_id: str) -> str:
        return f"{self.base}/ob2/assertions/{award_id}/signed.png"

    def issuer_image(self) -> str:
        return f"{self.base}/ob2/issuer/image"

    def ob2_key(self, kid: str) -> str:
        return f"{self.base}/ob2/keys/{kid}"

    def achievement(self, badge_id: str) -> str:
        return f"{self.base}/ob3/achievements/{quote(badge_id)}"

    def credential(self, award_id: str) -> str:
        return f"{self.base}/ob3/credentials/{award_id}"

    def credential_jwt(self, award_id: str) -> str:
        return f"{self.base}/ob3/credentials/{award_id}/jwt"

    def credential_png(self, award_id: str) -> str:
        return f"{self.base}/ob3/credentials/{award_id}/badge.png"

    def status_list(self, list_id: int) -> str:
        return f"{self.base}/ob3/status/{list_id}"

    def revocations(self) -> str:
        return f"{self.base}/ob2/revocations"

    def verify_page(self, award_id: str) -> str:
        return f"{self.base}/v/{award_id}"

    def page_qr(self, award_id: str) -> str:
        """The verification page's address as a QR code (SVG)."""
        return f"{self.base}/v/{award_id}/qr.svg"

    def name_choice(self, award_id: str, token: str) -> str:
        """The learner's signed link to hide (or show again) their name on their pages."""
        return f"{self.base}/v/{award_id}/name?t={token}"

    def static(self, name: str) -> str:
        return f"{self.base}/static/{name}"
