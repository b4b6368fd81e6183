"""Limits the service publishes (in ServiceProviderConfig and the API docs) and enforces.

Kept free of imports: the HTTP edge of every function reads them, including functions that
never load the SCIM modules."""

from __future__ import annotations

# API Gateway itself refuses bodies over 10 MB; we refuse far earlier. Published in
# ServiceProviderConfig (bulk.maxPayloadSize) and enforced for every route (http/requests.py).
MAX_BODY_BYTES = 1_048_576
