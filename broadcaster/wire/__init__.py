"""The JSON on Kafka topics: schemas from ``schemas/``, validated at every edge."""
