"""Faust topology and command line: adapts the nextbest core to Kafka."""
