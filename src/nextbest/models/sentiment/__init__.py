"""Text sentiment learned from review ratings over a lexicon prior, topic tags, spikes.

>>> model = SentimentModel()
>>> model.score("Terrible, it broke after one day.").positive < 0.5   # lexicon prior
True
>>> model.learn("Love it, works great", 5)
True
>>> tag_topics("The courier was late")
('shipping',)
"""

from nextbest.models.sentiment.blend import LexiconBlend
from nextbest.models.sentiment.digest import SentimentDigest
from nextbest.models.sentiment.digest import render as render_digest
from nextbest.models.sentiment.lexicon import lexicon_available, lexicon_score
from nextbest.models.sentiment.model import SentimentModel, SentimentScore
from nextbest.models.sentiment.spikes import SentimentSpike, TopicSpikes
from nextbest.models.sentiment.text import HashedLogisticRegression, hashed_features, tokens
from nextbest.models.sentiment.topics import TOPIC_VOCABULARY, TOPICS, stem, tag_topics

__all__ = [
    "TOPICS",
    "TOPIC_VOCABULARY",
    "HashedLogisticRegression",
    "LexiconBlend",
    "SentimentDigest",
    "SentimentModel",
    "SentimentScore",
    "SentimentSpike",
    "TopicSpikes",
    "hashed_features",
    "lexicon_available",
    "lexicon_score",
    "render_digest",
    "stem",
    "tag_topics",
    "tokens",
]
