"""What every answer of the web app carries, and how a bearer token is read.

`SecurityHeaders` is a plain ASGI middleware (it sees every response: routes, mounts, static
files, errors handled by the app): a Content-Security-Policy that allows only the app's own
origin and the public URL's (pages, images, scripts and styles come from there), no framing
(`frame-ancestors 'none'`, X-Frame-Options), no referrer (links carry tokens in their path or
query), and no content sniffing. A response that sets one of these itself keeps its own.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeaders", "security_headers", "bearer_token"]


def security_headers(public_url: str) -> dict[str, str]:
    """The headers, with the public URL's origin allowed next to the app's own."""
    parts = urlsplit(public_url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    src = " ".join(p for p in ("'self'", origin) if p)
    csp = "; ".join([
        "default-src 'none'", f"img-src {src} data:", f"style-src {src}", f"script-src {src}",
        f"connect-src {src}", f"font-src {src}", f"form-action {src}", f"manifest-src {src}",
        "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'",
    ])
    return {
        "content-security-policy": csp,
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
        "cross-origin-opener-policy": "same-origin",
    }


class SecurityHeaders:
    """Adds `security_headers(public_url)` to every HTTP response of the wrapped app."""

    def __init__(self, app: ASGIApp, public_url: str) -> None:
        self.app = app
        self.headers = [(k.encode(), v.encode()) for k, v in security_headers(public_url).items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k, v) for k, v in self.headers if k not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def bearer_token(request: Request) -> bytes | None:
    """The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive,
    RFC 7235); None without one, with another scheme, or with an empty token."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token.encode()
