"""The HTTP edge: request parsing and the two response dialects (token API envelope, SCIM)."""
