"""/api/v1/workflow: a user's pending activities and the actions on them (DESIGN §7)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.context import get_context
from apps.workflow import selectors, services
from apps.workflow.models import WFState
from apps.workflow.serializers import (
    ACTION_SCHEMA,
    NODES_SCHEMA,
    ForwardInputSerializer,
    MessageInputSerializer,
    UserChoiceInputSerializer,
    activity_bodies,
    activity_body,
)

_ERRORS = {
    400: OpenApiResponse(description="Wrong node type or invalid input"),
    403: OpenApiResponse(description="The activity belongs to someone else"),
    404: OpenApiResponse(description="No such activity in this client"),
    409: OpenApiResponse(description="The activity is already done"),
}
_APPROVE_ERRORS = {
    **_ERRORS,
    403: OpenApiResponse(
        description="The activity belongs to someone else, or the document's amount exceeds the "
                    "approval amount of the caller's role and the caller has no supervisor"
    ),
}


def _nodes(activities) -> Response:
    return Response({"nodes": activity_bodies(activities)})


def _done(msg: str, activity) -> Response:
    return Response({"msg": msg, "node": activity_body(activity)})


class PendingActivitiesView(APIView):
    @extend_schema(
        operation_id="workflow_pending_list",
        tags=["workflow"],
        responses={200: NODES_SCHEMA},
        summary="The current user's suspended activities",
    )
    def get(self, request):
        ctx = get_context(request)
        return _nodes(selectors.pending_activities(ctx=ctx, user_id=ctx.user_id))


class UserActivitiesView(APIView):
    @extend_schema(
        operation_id="workflow_user_pending_list",
        tags=["workflow"],
        responses={
            200: NODES_SCHEMA,
            403: OpenApiResponse(description="Not an admin role"),
            404: OpenApiResponse(description="No such user in this client"),
        },
        summary="Another user's suspended activities (admin roles only)",
    )
    def get(self, request, user_id: str):
        ctx = get_context(request)
        user = selectors.user_for_activities(ctx=ctx, user_ref=user_id)
        return _nodes(selectors.pending_activities(ctx=ctx, user_id=user.pk))


class ApproveView(APIView):
    @extend_schema(
        operation_id="workflow_approve",
        tags=["workflow"],
        request=MessageInputSerializer,
        responses={200: ACTION_SCHEMA, **_APPROVE_ERRORS},
        summary="Approve an approval node (above the role's approval amount: passed to the "
                "approver's supervisor)",
    )
    def put(self, request, node_id: str):
        data = MessageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        activity = services.activity_approve(
            ctx=get_context(request), activity_ref=node_id, message=data.validated_data["message"]
        )
        if activity.state == WFState.SUSPENDED:  # above the approver's limit: passed on
            return _done(f"Approved; forwarded to {activity.responsible} for final approval",
                         activity)
        return _done("Approved", activity)


class RejectView(APIView):
    @extend_schema(
        operation_id="workflow_reject",
        tags=["workflow"],
        request=MessageInputSerializer,
        responses={200: ACTION_SCHEMA, **_ERRORS},
        summary="Reject an approval node",
    )
    def put(self, request, node_id: str):
        data = MessageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        activity = services.activity_reject(
            ctx=get_context(request), activity_ref=node_id, message=data.validated_data["message"]
        )
        return _done("Rejected", activity)


class ForwardView(APIView):
    @extend_schema(
        operation_id="workflow_forward",
        tags=["workflow"],
        request=ForwardInputSerializer,
        responses={200: ACTION_SCHEMA, **_ERRORS},
        summary="Forward an activity to another user of the client",
    )
    def put(self, request, node_id: str):
        data = ForwardInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        activity = services.activity_forward(
            ctx=get_context(request),
            activity_ref=node_id,
            user_to=data.validated_data["userTo"],
            message=data.validated_data["message"],
        )
        return _done("Forwarded", activity)


class AcknowledgeView(APIView):
    @extend_schema(
        operation_id="workflow_acknowledge",
        tags=["workflow"],
        request=MessageInputSerializer,
        responses={200: ACTION_SCHEMA, **_ERRORS},
        summary="Acknowledge a notice node",
    )
    def put(self, request, node_id: str):
        data = MessageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        activity = services.activity_acknowledge(
            ctx=get_context(request), activity_ref=node_id, message=data.validated_data["message"]
        )
        return _done("Acknowledged", activity)


class SetUserChoiceView(APIView):
    @extend_schema(
        operation_id="workflow_setuserchoice",
        tags=["workflow"],
        request=UserChoiceInputSerializer,
        responses={200: ACTION_SCHEMA, **_ERRORS},
        summary="Set the value of a user-choice node",
    )
    def put(self, request, node_id: str):
        data = UserChoiceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        activity = services.activity_set_user_choice(
            ctx=get_context(request),
            activity_ref=node_id,
            value=data.validated_data["value"],
            message=data.validated_data["message"],
        )
        return _done("Value set", activity)
