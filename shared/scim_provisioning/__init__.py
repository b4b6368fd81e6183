"""Domain logic, data access and HTTP edge helpers shared by every Lambda function.

This package is the Lambda layer (SAM builds it from ``shared/``). Handlers in ``functions/``
stay thin: they turn an API Gateway event into a call on a service defined here and the
service's answer into a response.
"""
