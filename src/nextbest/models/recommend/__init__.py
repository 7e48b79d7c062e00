"""Online recommender: co-occurrence, factorisation, content and popularity, blended.

>>> rec = Recommender(RecommendSettings(exploration=0.0))
>>> rec.learn("ann", "tent", time_ms=0)
>>> rec.learn("ann", "stove", time_ms=1, history=["tent"])
>>> [(r.item_id, r.reason) for r in rec.recommend("bob", 1, history=["tent"])]
[('stove', 'bought together with tent')]
"""

from nextbest.models.recommend.content import Catalog, Item, price_band
from nextbest.models.recommend.cooccurrence import CoOccurrence
from nextbest.models.recommend.factorization import ImplicitMF
from nextbest.models.recommend.hybrid import Recommendation, Recommender, RecommendSettings
from nextbest.models.recommend.popularity import Popularity

__all__ = [
    "Catalog",
    "CoOccurrence",
    "ImplicitMF",
    "Item",
    "Popularity",
    "RecommendSettings",
    "Recommendation",
    "Recommender",
    "price_band",
]
