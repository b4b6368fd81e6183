"""The local dev server behind ``make dev``: the template's routes and table, served on this
machine with an embedded DynamoDB, so nobody needs an AWS account or Docker to run the service."""
