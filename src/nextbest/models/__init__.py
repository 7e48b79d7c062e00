"""Online models that learn from every event.

Each model learns one observation at a time and can score before it has
learned anything (it then answers with its prior). Subpackages:

- ``recommend``: item-to-item co-occurrence, implicit matrix factorisation,
  content and popularity, blended by the customer's history.
- ``churn``: churn risk against the customer's own baseline, with delayed
  labels, and predicted value over a horizon.
- ``sentiment``: text sentiment learned from review ratings over a lexicon
  prior, topic tags and per-topic spike detection.
"""
