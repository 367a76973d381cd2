"""The verification page's words in French and English, and the language choice.

`?lang=` wins, then Accept-Language, then the config's default.
"""

from __future__ import annotations

__all__ = ["pick_language", "WORDS"]

WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Vérification du badge", "issued_to": "Décerné à", "issued_by": "Émetteur",
        "issued_on": "Délivré le", "expires_on": "Expire le", "criteria": "Critères",
        "evidence": "Preuves", "status": "Statut", "valid": "Valide", "expired": "Expiré",
        "revoked": "Révoqué", "revoked_on": "Révoqué le", "reason": "Motif",
        "download_png": "Télécharger l'image (PNG)", "download_json": "Assertion (JSON)",
        "hidden_name": "Nom masqué à la demande", "switch": "English", "lang_label": "Langue",
        "not_found": "Ce badge n'existe pas.", "alt": "Image du badge",
    },
    "en": {
        "title": "Badge verification", "issued_to": "Awarded to", "issued_by": "Issuer",
        "issued_on": "Issued on", "expires_on": "Expires on", "criteria": "Criteria",
        "evidence": "Evidence", "status": "Status", "valid": "Valid", "expired": "Expired",
        "revoked": "Revoked", "revoked_on": "Revoked on", "reason": "Reason",
        "download_png": "Download the image (PNG)", "download_json": "Assertion (JSON)",
        "hidden_name": "Name hidden on request", "switch": "Français", "lang_label": "Language",
        "not_found": "This badge does not exist.", "alt": "Badge image",
    },
}


def pick_language(query_lang: str | None, accept: str | None, default: str) -> str:
    if query_lang in WORDS:
        return query_lang  # type: ignore[return-value]
    ranked: list[tuple[float, str]] = []
    for part in (accept or "").split(","):
        bits = part.strip().split(";")
        tag = bits[0].strip().lower()[:2]
        q = 1.0
        for b in bits[1:]:
            if b.strip().startswith("q="):
                try:
                    q = float(b.strip()[2:])
                except ValueError:
                    q = 0.0
        if tag in WORDS:
            ranked.append((q, tag))
    return max(ranked)[1] if ranked else default
