"""The auth API of DESIGN §4 (iDempiere REST's /api/v1/auth)."""

from __future__ import annotations

import json

from drf_spectacular.utils import OpenApiParameter, extend_schema
from jwt.algorithms import RSAAlgorithm
from rest_framework import status
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from apps.accounts import selectors, serializers, services
from apps.accounts.authentication import LoginTokenAuthentication
from apps.accounts.permissions import HasLoginGrant
from apps.accounts.throttling import FailureBudget, RefreshRateThrottle
from apps.core.context import get_context
from apps.core.errors import NotFound
from apps.core.openapi import problems


def _named(rows) -> list[dict]:
    return [{"id": row.id, "name": row.name} for row in rows]


def _session_body(issued: services.IssuedTokens) -> dict:
    session = issued.session
    return {
        "clientId": session.client_id,
        "userId": session.user_id,
        "roleId": session.role_id,
        "organizationId": session.org_id,
        "warehouseId": session.warehouse_id or 0,
        "language": session.language,
        "token": issued.access,
        "refresh_token": issued.refresh,
    }


class TokensView(APIView):
    """``POST`` logs in (step 1, or in one step with ``parameters``); ``PUT`` picks the context.

    The password check spends the caller's failure budget (``FailureBudget``: one per address and
    user name, shared with HTTP Basic and the UI sign-in) only when it fails."""

    def get_authenticators(self):
        if self.request is not None and self.request.method == "PUT":
            return [LoginTokenAuthentication()]
        return []

    def get_permissions(self):
        if self.request is not None and self.request.method == "PUT":
            return [HasLoginGrant()]
        return [AllowAny()]

    @extend_schema(
        request=serializers.LoginInputSerializer,
        responses={200: serializers.LoginOutputSerializer, **problems(401, 403, 429)},
        auth=[],
        summary="Log in (step 1; or one step with `parameters`)",
        description="With `parameters` the answer is that of PUT (a full token and refresh token).",
    )
    def post(self, request):
        data = serializers.LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        budget = FailureBudget(request, data.validated_data["userName"])
        if not budget.spend():
            raise Throttled(
                wait=budget.wait_seconds,
                detail="Too many failed logins for this user name; try again later.",
            )
        user = services.credentials_check(
            username=data.validated_data["userName"], password=data.validated_data["password"]
        )
        budget.refund()
        if "parameters" in data.validated_data:
            issued = services.session_open(user=user, params=data.validated_data["parameters"])
            return Response(_session_body(issued))
        return Response(
            {
                "clients": _named(selectors.user_clients(user)),
                "token": services.login_token_issue(user=user),
            }
        )

    @extend_schema(
        request=serializers.ContextChoiceSerializer,
        responses={200: serializers.SessionOutputSerializer, **problems(404)},
        summary="Choose client, role, organization, warehouse (step 2)",
    )
    def put(self, request):
        data = serializers.ContextChoiceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.session_open(user=request.user, params=data.validated_data)
        return Response(_session_body(issued))


class _LoginGrantView(APIView):
    authentication_classes = (LoginTokenAuthentication,)
    permission_classes = (HasLoginGrant,)

    def _client_id(self, request) -> int:
        client = selectors.pick(
            selectors.user_clients(request.user), request.query_params.get("client"), "client"
        )
        return client.id

    def _role(self, request):
        client_id = self._client_id(request)
        return selectors.pick(
            selectors.user_client_roles(request.user, client_id),
            request.query_params.get("role"),
            "role",
        )


CLIENT_PARAM = OpenApiParameter("client", str, description="Client id or name")
ROLE_PARAM = OpenApiParameter("role", str, description="Role id or name")
ORG_PARAM = OpenApiParameter("organization", str, description="Organization id or name")


class RolesView(_LoginGrantView):
    @extend_schema(parameters=[CLIENT_PARAM], responses={200: serializers.RolesSerializer, **problems(404)})
    def get(self, request):
        client_id = self._client_id(request)
        return Response({"roles": _named(selectors.user_client_roles(request.user, client_id))})


class OrganizationsView(_LoginGrantView):
    @extend_schema(
        parameters=[CLIENT_PARAM, ROLE_PARAM], responses={200: serializers.OrganizationsSerializer, **problems(404)}
    )
    def get(self, request):
        return Response({"organizations": _named(selectors.role_orgs(self._role(request)))})


class WarehousesView(_LoginGrantView):
    @extend_schema(
        parameters=[CLIENT_PARAM, ROLE_PARAM, ORG_PARAM],
        responses={200: serializers.WarehousesSerializer, **problems(404)},
    )
    def get(self, request):
        role = self._role(request)
        org = selectors.pick(
            selectors.role_orgs(role), request.query_params.get("organization"), "organization"
        )
        return Response({"warehouses": _named(selectors.org_warehouses(role.client_id, org.id))})


class LanguageView(_LoginGrantView):
    @extend_schema(parameters=[CLIENT_PARAM], responses={200: serializers.LanguageSerializer, **problems(404)})
    def get(self, request):
        client = selectors.pick(
            selectors.user_clients(request.user), request.query_params.get("client"), "client"
        )
        return Response({"AD_Language": client.language})


class RefreshView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (RefreshRateThrottle,)

    @extend_schema(
        request=serializers.RefreshInputSerializer,
        responses={200: serializers.RefreshOutputSerializer, **problems(401, 429)},
        auth=[],
        summary="Exchange a refresh token (rotates; a reused one revokes its chain)",
    )
    def post(self, request):
        data = serializers.RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.session_refresh(raw_refresh=data.validated_data["refresh_token"])
        return Response({"token": issued.access, "refresh_token": issued.refresh})


class LogoutView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        request=serializers.LogoutInputSerializer,
        responses={200: serializers.SummarySerializer, **problems(401)},
        auth=[],
        summary="Log out: the token and its refresh chain stop working at once",
    )
    def post(self, request):
        data = serializers.LogoutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.session_logout(raw_token=data.validated_data["token"])
        return Response({"summary": "OK"}, status=status.HTTP_200_OK)


class JwkView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        responses={200: serializers.JwkSetSerializer, **problems(404)}, auth=[],
        summary="Token signing public key",
    )
    def get(self, request):
        if not selectors.sysconfig_bool("IDEMPIERE_REST_EXPOSE_JWK"):
            raise NotFound("The signing key is not published (SysConfig IDEMPIERE_REST_EXPOSE_JWK).")
        if not jwt_settings.ALGORITHM.startswith(("RS", "PS")):
            # A shared (HMAC) secret must never be published.
            raise NotFound("Tokens are not signed with a public key.")
        public_key = jwt_settings.VERIFYING_KEY
        jwk = json.loads(RSAAlgorithm.to_jwk(RSAAlgorithm(RSAAlgorithm.SHA256).prepare_key(public_key)))
        jwk.update({"use": "sig", "alg": jwt_settings.ALGORITHM})
        return Response({"keys": [jwk]})


class ContextView(APIView):
    """The caller's context: who the token (or HTTP Basic) stands for, and where."""

    @extend_schema(responses=serializers.ContextSerializer, summary="The caller's context")
    def get(self, request):
        ctx = get_context(request)
        return Response(
            {
                "clientId": ctx.client_id,
                "roleId": ctx.role_id,
                "organizationId": ctx.org_id,
                "warehouseId": ctx.warehouse_id or 0,
                "userId": ctx.user_id,
                "language": ctx.language,
            }
        )
