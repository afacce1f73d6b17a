"""The response headers a browser needs to contain what a page can do: Content-Security-Policy and
Permissions-Policy. Django's SecurityMiddleware and XFrameOptionsMiddleware set the others
(``SECURE_REFERRER_POLICY``, ``SECURE_CONTENT_TYPE_NOSNIFF``, ``X_FRAME_OPTIONS`` in settings).

One static policy, no nonces: the UI's pages and the API docs (drf-spectacular's split Swagger view
with the sidecar's assets) load every script and style sheet from this origin and carry no inline
script, inline event handler or inline style (tests/ui/test_security_headers.py checks the
templates; tests/ui/test_csp_browser.py checks Chromium reports no violation). A page's data reaches
its script through ``data-`` attributes. A static policy keeps responses cacheable and needs no
template to remember a nonce. A small middleware rather than django-csp: the policy is one string,
Permissions-Policy is needed as well (django-csp does not set it) and no dependency is added.

The Django admin keeps its own behaviour (its pages use inline scripts and styles): no policy is
added under its prefix. A view that sets its own Content-Security-Policy keeps it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# img-src data: is for the SVG icons in Swagger UI's style sheet; blob: for an image answer that the
# docs' "Try it out" shows. connect-src: the UI's fetches and tus uploads, the docs' calls.
CSP_DIRECTIVES: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

# Powerful features no page here uses, refused to the page and to anything it embeds. Only names
# Chromium knows: an unknown one is an error in the console.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "geolocation",
        "gyroscope", "hid", "magnetometer", "microphone", "midi", "payment",
        "publickey-credentials-get", "serial", "usb", "xr-spatial-tracking",
    )
)

# Paths that keep their own behaviour: the admin's pages rely on inline scripts and styles.
EXEMPT_PREFIXES: tuple[str, ...] = ("/admin/",)


def content_security_policy() -> str:
    """The policy of every page but the admin's. When tus Location URLs are made from
    ``PUBLIC_BASE_URL`` (another origin than the page's, behind some proxies), the uploader's
    requests go there, so that origin is allowed to be connected to as well."""
    directives = dict(CSP_DIRECTIVES)
    public = urlsplit(getattr(settings, "PUBLIC_BASE_URL", "") or "")
    if public.scheme in ("http", "https") and public.netloc:
        directives["connect-src"] += f" {public.scheme}://{public.netloc}"
    s3_origin = direct_upload_origin()
    if s3_origin:
        directives["connect-src"] += f" {s3_origin}"
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def direct_upload_origin() -> str:
    """With direct-to-S3 uploads (S3 storage, ``S3_DIRECT_UPLOADS``), the browser PUTs parts to
    the bucket's endpoint: its origin, as presigned URLs name it ("" otherwise)."""
    from apps.core.storage import S3Objects, place_of, storage_for

    if not getattr(settings, "S3_DIRECT_UPLOADS", True):
        return ""
    try:
        place = place_of(getattr(settings, "UPLOAD_STORAGE_ALIAS", "default"))
        if not place.is_s3:
            return ""
        return S3Objects(storage_for(place.alias, place.backend, place.location)).url_origin()
    except Exception:
        logging.getLogger("ledgerdoc").warning("No S3 origin for connect-src", exc_info=True)
        return ""


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy and Permissions-Policy to every response outside the admin,
    error pages and static files included (placed right after SecurityMiddleware, so WhiteNoise's
    answers pass through it too)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = content_security_policy()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path_info.startswith(EXEMPT_PREFIXES):
            return response
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        if "Permissions-Policy" not in response:
            response["Permissions-Policy"] = PERMISSIONS_POLICY
        return response
