"""A test URLconf: the real URLs plus small views that raise, to exercise the problem handler."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import Conflict, NotReady
from config.urls import (  # noqa: F401 - the handlers are read from this module
    handler400,
    handler403,
    handler404,
    handler500,
)
from config.urls import urlpatterns as real_urlpatterns


class _Open(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)


class RaisesHttp404(_Open):
    def get(self, request):
        raise Http404("No such thing here.")


class RaisesPermissionDenied(_Open):
    def get(self, request):
        raise PermissionDenied("Not for you.")


class RaisesUnexpected(_Open):
    def get(self, request):
        raise RuntimeError("secret internals: password=hunter2")


class RaisesConflict(_Open):
    def get(self, request):
        raise Conflict("Already there.")


class RaisesNotReady(_Open):
    def get(self, request):
        raise NotReady("Still finalizing.", retry_after=5)


class EchoJson(_Open):
    def post(self, request):
        return Response({"received": request.data})


def plain_django_boom(request):
    raise RuntimeError("secret internals in a plain Django view")


def plain_django_404(request):
    raise Http404("plain")


def plain_django_403(request):
    raise PermissionDenied("plain")


urlpatterns = [
    path("test/http404", RaisesHttp404.as_view()),
    path("test/denied", RaisesPermissionDenied.as_view()),
    path("test/boom", RaisesUnexpected.as_view()),
    path("test/conflict", RaisesConflict.as_view()),
    path("test/not-ready", RaisesNotReady.as_view()),
    path("test/echo", EchoJson.as_view()),
    path("test/plain-boom", plain_django_boom),
    path("test/plain-404", plain_django_404),
    path("test/plain-403", plain_django_403),
    *real_urlpatterns,
]
