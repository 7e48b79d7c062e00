"""The worker's stages: ingest, identity, customer, and the timers that drive time."""
