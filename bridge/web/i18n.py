"""The verification page's words in French and English, and the language choice.

`?lang=` wins, then Accept-Language, then the config's default.
"""

from __future__ import annotations

__all__ = ["pick_language", "WORDS"]

WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Vérification du badge", "issued_to": "Décerné à", "issued_by": "Émetteur",
        "issued_on": "Délivré le", "expires_on": "Expire le", "criteria": "Critères",
        "evidence": "Preuves", "status": "Statut", "colon": "\u00a0:", "valid": "Valide", "expired": "Expiré",
        "revoked": "Révoqué", "revoked_on": "Révoqué le", "reason": "Motif",
        "download_png": "Image du badge (PNG, Open Badges 2.0)",
        "download_svg": "Image du badge (SVG, Open Badges 2.0)",
        "download_json": "Assertion Open Badges 2.0 (JSON)",
        "download_ob3": "Attestation Open Badges 3.0 (JSON)",
        "download_ob3_png": "Image du badge (PNG, Open Badges 3.0)",
        "downloads": "Téléchargements", "details": "Détails", "alignments": "Référentiels",
        "status_note_valid": "Ce badge a été vérifié auprès de son émetteur à l'instant.",
        "status_note_expired": "Ce badge a expiré : il n'atteste plus de compétence à jour.",
        "status_note_revoked": "L'émetteur a révoqué ce badge.", "issued_by_title": "Émis par",
        "hidden_name": "Nom masqué à la demande", "switch": "English", "lang_label": "Langue",
        "not_found": "Ce badge n'existe pas.", "alt": "Image du badge",
    },
    "en": {
        "title": "Badge verification", "issued_to": "Awarded to", "issued_by": "Issuer",
        "issued_on": "Issued on", "expires_on": "Expires on", "criteria": "Criteria",
        "evidence": "Evidence", "status": "Status", "colon": ":", "valid": "Valid", "expired": "Expired",
        "revoked": "Revoked", "revoked_on": "Revoked on", "reason": "Reason",
        "download_png": "Badge image (PNG, Open Badges 2.0)",
        "download_svg": "Badge image (SVG, Open Badges 2.0)",
        "download_json": "Open Badges 2.0 assertion (JSON)",
        "download_ob3": "Open Badges 3.0 credential (JSON)",
        "download_ob3_png": "Badge image (PNG, Open Badges 3.0)",
        "downloads": "Downloads", "details": "Details", "alignments": "Frameworks",
        "status_note_valid": "This badge was checked with its issuer just now.",
        "status_note_expired": "This badge has expired.",
        "status_note_revoked": "The issuer has revoked this badge.", "issued_by_title": "Issued by",
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
