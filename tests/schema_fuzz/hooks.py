"""Schemathesis hooks for the Ledgerdoc API (loaded through ``SCHEMATHESIS_HOOKS``).

The tus PATCH body is ``application/offset+octet-stream``: raw bytes that schemathesis cannot
derive from a JSON Schema. Registering a strategy for that media type lets the tus operations be
fuzzed like every other one.
"""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.media_type(
    "application/offset+octet-stream", st.binary(min_size=0, max_size=4096)
)
