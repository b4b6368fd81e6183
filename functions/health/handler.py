"""GET /api/v1/health: answers 200 once the function can be invoked; touches no data."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # typing only: importing Powertools at run time costs cold start (docs/cold-start.md)
    from aws_lambda_powertools.utilities.typing import LambdaContext


def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps({"status": "ok"}),
    }
