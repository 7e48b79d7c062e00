"""The streaming layer and command line: adapts the nextbest core to Kafka (aiokafka)."""
