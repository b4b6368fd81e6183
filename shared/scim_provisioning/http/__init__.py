"""The HTTP edge: request parsing and the two response dialects (the admin APIs' envelope, SCIM)."""
