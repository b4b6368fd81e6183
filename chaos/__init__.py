"""``make chaos``: the fault-injection suite over HTTP (issue 14). See ``chaos.run``."""
