"""The greeter: counts each person's visits and greets them through Kafka."""
