""""Add to a wallet": the OB 3.0 credential offered per OpenID4VCI 1.0, pre-authorised code flow.

The page's QR code holds `openid-credential-offer://?credential_offer_uri=…`; the wallet reads
the offer (a fresh pre-authorised code), trades the code for an access token at the token
endpoint, and fetches the signed credential at the credential endpoint. Codes and tokens are
signed and short-lived (itsdangerous), so nothing is stored; no holder-key proof is asked for,
because the credential names its learner by a hashed email, not by a key they hold, and no
transaction code either: the credential is already public at its URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.issuing.issuer import Issuer
from bridge.issuing.links import link_secret
from bridge.issuing.ob3 import CONTEXT
from bridge.issuing.share import qr_svg
from bridge.store import Store

__all__ = ["wallet_routes", "offer_links", "CONFIGURATION", "PRE_AUTHORIZED"]

CONFIGURATION = "OpenBadgeCredential"
PRE_AUTHORIZED = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
CODE_SECONDS = 600  # a QR code scanned within ten minutes of opening the page
TOKEN_SECONDS = 300


def offer_links(issuer: Issuer, award_id: str) -> dict[str, str]:
    """The wallet link of an award's page and its QR code."""
    offer = f"{issuer.urls.verify_page(award_id)}/wallet-offer"
    return {"url": "openid-credential-offer://?credential_offer_uri=" + quote(offer, safe=""),
            "qr_url": offer + ".svg"}


def wallet_routes(issuer: Issuer, store: Store) -> list[Route]:
    base = issuer.urls.base
    signer = URLSafeTimedSerializer(link_secret(issuer.config.bridge.keys_path), salt="openid4vci")

    def error(code: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": code}, status_code=status, headers={"Cache-Control": "no-store"})

    async def issuer_metadata(request: Request) -> Response:
        name = issuer.config.issuer.name
        return JSONResponse({
            "credential_issuer": base, "credential_endpoint": f"{base}/oid4vci/credential",
            "display": [{"name": name, "locale": lang} for lang in ("fr", "en")],
            "credential_configurations_supported": {CONFIGURATION: {
                "format": "ldp_vc", "scope": CONFIGURATION,
                "credential_definition": {"@context": CONTEXT,
                                          "type": ["VerifiableCredential", "OpenBadgeCredential"]},
                "credential_signing_alg_values_supported": ["eddsa-rdfc-2022"],
                "credential_metadata": {"display": [{"name": "Open Badge", "locale": "en"},
                                                    {"name": "Open Badge", "locale": "fr"}]},
            }},
        })

    async def server_metadata(request: Request) -> Response:
        return JSONResponse({"issuer": base, "token_endpoint": f"{base}/oid4vci/token",
                             "grant_types_supported": [PRE_AUTHORIZED],
                             "pre-authorized_grant_anonymous_access_supported": True,
                             "response_types_supported": []})

    def award_of(request: Request) -> Any:
        award = store.awards.get(request.path_params["award_id"])
        return award if award is not None and award.validity() == "valid" else None

    async def offer(request: Request) -> Response:
        award = award_of(request)
        if award is None:
            return error("not_found", 404)
        return JSONResponse({"credential_issuer": base,
                             "credential_configuration_ids": [CONFIGURATION],
                             "grants": {PRE_AUTHORIZED: {"pre-authorized_code":
                                                         signer.dumps(["code", award.id])}}},
                            headers={"Cache-Control": "no-store"})

    async def offer_qr(request: Request) -> Response:
        award = award_of(request)
        if award is None:
            return error("not_found", 404)
        return Response(qr_svg(offer_links(issuer, award.id)["url"]), media_type="image/svg+xml",
                        headers={"Cache-Control": "no-store"})

    def unsign(value: str, kind: str, seconds: int) -> str | None:
        try:
            got = signer.loads(value, max_age=seconds)
        except BadSignature:
            return None
        return got[1] if isinstance(got, list) and len(got) == 2 and got[0] == kind else None

    async def token(request: Request) -> Response:
        form = await request.form()
        if form.get("grant_type") != PRE_AUTHORIZED:
            return error("unsupported_grant_type")
        award_id = unsign(str(form.get("pre-authorized_code") or ""), "code", CODE_SECONDS)
        if award_id is None:
            return error("invalid_grant")
        return JSONResponse({"access_token": signer.dumps(["token", award_id]),
                             "token_type": "Bearer", "expires_in": TOKEN_SECONDS},
                            headers={"Cache-Control": "no-store"})

    async def credential(request: Request) -> Response:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        award_id = unsign(value, "token", TOKEN_SECONDS) if scheme.lower() == "bearer" else None
        if award_id is None:
            return error("invalid_token", 401)
        try:
            body = await request.json()
        except ValueError:
            return error("invalid_credential_request")
        asked = body.get("credential_configuration_id") if isinstance(body, dict) else None
        legacy = isinstance(body, dict) and body.get("format") == "ldp_vc"  # drafts 13 and before
        if asked != CONFIGURATION and not legacy:
            return error("unknown_credential_configuration")
        award = store.awards.get(award_id)
        if award is None or award.validity() != "valid":
            return error("invalid_token", 401)
        signed = issuer.ob3_credential(award)
        return JSONResponse({"credential": signed} if legacy else {"credentials": [{"credential": signed}]},
                            headers={"Cache-Control": "no-store"})

    return [
        Route("/.well-known/openid-credential-issuer", issuer_metadata),
        Route("/.well-known/oauth-authorization-server", server_metadata),
        Route("/v/{award_id}/wallet-offer", offer),
        Route("/v/{award_id}/wallet-offer.svg", offer_qr),
        Route("/oid4vci/token", token, methods=["POST"]),
        Route("/oid4vci/credential", credential, methods=["POST"]),
    ]
