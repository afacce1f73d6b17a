"""JWT flavours (djangorestframework-simplejwt, RS256).

* :class:`LoginToken` — answer of the first login step; good only for the auth calls.
* ``AccessToken`` / ``RefreshToken`` — carry the chosen context and the auth session id (``sid``).
* :class:`UploadToken` — the web UI's uploader's token: the same claims as an access token, but
  only the upload endpoints (``authentication.UploadTokenAuthentication``) accept it.
"""

from datetime import timedelta

from django.conf import settings
from rest_framework_simplejwt.tokens import Token


class LoginToken(Token):
    token_type = "login"
    lifetime = timedelta(minutes=settings.JWT_LOGIN_TOKEN_MINUTES)


class UploadToken(Token):
    """A short-lived token of a login session for the browser's uploader (``POST /ui/upload-token``).

    A distinct token type, so a leaked one (the page's script holds it) opens the upload endpoints
    the page uses and nothing else: every other endpoint reads only ``access`` tokens."""

    token_type = "upload"
    lifetime = timedelta(minutes=10)


CONTEXT_CLAIMS = ("AD_Client_ID", "AD_Role_ID", "AD_Org_ID", "M_Warehouse_ID", "AD_Language")
