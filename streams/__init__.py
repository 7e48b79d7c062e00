"""The topology on aiokafka: the stages that adapt the nextbest core to Kafka, and the worker."""
