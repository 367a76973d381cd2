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

    def badge(self, badge_id: str) -> str:
        return f"{self.base}/ob2/badges/{quote(badge_id)}"

    def badge_image(self, badge_id: str) -> str:
        return f"{self.base}/ob2/badges/{quote(badge_id)}/image"

    def assertion(self, award_id: str) -> str:
        return f"{self.base}/ob2/assertions/{award_id}"

    def baked_png(self, award_id: str) -> str:
        return f"{self.base}/ob2/assertions/{award_id}/badge.png"

    def revocations(self) -> str:
        return f"{self.base}/ob2/revocations"

    def verify_page(self, award_id: str) -> str:
        return f"{self.base}/v/{award_id}"
