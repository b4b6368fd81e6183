"""The cold-start benchmark's stand-in for Lambda's X-Ray daemon (``benchmarks/cold_start.py``):
it must count what the X-Ray SDK really sends, or a run measured "with tracing" could be
measuring a tracer that sends nothing."""

from __future__ import annotations

from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter
from aws_xray_sdk.core.models.segment import Segment
from aws_xray_sdk.core.models.subsegment import Subsegment

from benchmarks.cold_start import XRayDaemon


def test_the_stand_in_counts_the_subsegments_the_sdk_sends() -> None:
    """Given the stand-in daemon, when the X-Ray SDK's own emitter sends it two subsegments and
    a segment, then it counts two subsegments, and none more on the next call."""
    daemon = XRayDaemon()
    try:
        emitter = UDPEmitter(daemon.address)
        segment = Segment("scim-provisioning")
        for name in ("## lambda_handler", "DynamoDB"):
            subsegment = Subsegment(name, "aws", segment)
            subsegment.close()
            emitter.send_entity(subsegment)
        segment.close()
        emitter.send_entity(segment)

        assert daemon.subsegments() == 2
        assert daemon.subsegments() == 0
    finally:
        daemon.close()
