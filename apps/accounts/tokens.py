"""JWT flavours (djangorestframework-simplejwt, RS256).

* :class:`LoginToken` — answer of the first login step; good only for the auth calls.
* ``AccessToken`` / ``RefreshToken`` — carry the chosen context and the auth session id (``sid``).
"""

from datetime import timedelta

from django.conf import settings
from rest_framework_simplejwt.tokens import Token


class LoginToken(Token):
    token_type = "login"
    lifetime = timedelta(minutes=settings.JWT_LOGIN_TOKEN_MINUTES)


CONTEXT_CLAIMS = ("AD_Client_ID", "AD_Role_ID", "AD_Org_ID", "M_Warehouse_ID", "AD_Language")
