"""Data access. ``interface`` says what the services may ask of the store; ``dynamodb`` is
the one module that talks to DynamoDB."""
