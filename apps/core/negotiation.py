"""Content negotiation: ``Accept`` is a preference, never a reason to refuse (RFC 9110 §12.5.1).

DRF answers 406 when no renderer matches ``Accept``. Our renderers are JSON only, and the views
that serve bytes (attachments, ZIPs, uploaded files, PDFs) answer with responses of their own, so
a client that asks for ``application/octet-stream`` (iDempiere's Postman collection does, for an
attachment) would be refused bytes it was about to get. When nothing matches, the first renderer
is used: JSON answers stay JSON, bytes stay bytes.
"""

from __future__ import annotations

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class PreferenceNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type
