"""Data access. ``protocols`` says what the services may ask of each store; ``table`` is the
one module that sends requests to DynamoDB; one module per aggregate builds its items
(``organizations``, ``people``, ``groups``, ``memberships``, ``credentials``, ``activity_log``,
``token_health``); ``dynamodb`` wires them on one table."""
