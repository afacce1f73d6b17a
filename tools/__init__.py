"""Command-line tools for Ledgerdoc users (``python -m tools.<name>``)."""
