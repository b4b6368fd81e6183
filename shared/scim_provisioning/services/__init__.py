"""The rules of the service. Each service takes a repository and a clock, so tests can run
it on moto with a fixed clock; none of them knows about HTTP."""
