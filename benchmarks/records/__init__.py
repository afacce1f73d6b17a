"""Records benchmark: GET /api/v1/models/c_bpartner against a plain DRF ModelViewSet (DESIGN §10)."""
