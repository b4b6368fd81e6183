"""The rules of the service. Each service takes the stores it uses (narrow protocols,
``repository/protocols.py``) and a clock, so tests can run it on moto with a fixed clock;
none of them knows about HTTP or DynamoDB."""
