"""``scim-admin``: the operator's command-line tool for what the HTTP API deliberately does not
offer (creating organizations and their admins' personal API keys). Never shipped to Lambda."""
