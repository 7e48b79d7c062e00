"""Lexicon prior: VADER's compound score, from one shared analyzer.

The analyzer holds VADER's ~7,500-word lexicon (about 0.8 MB pickled), so models never
store it: they call :func:`lexicon_score`, which builds one module-level analyzer on first
use. ``vaderSentiment`` ships in the ``bench`` extra; without it the prior is neutral (0.0)
and :func:`lexicon_available` says so.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_analyzer: Any = None
_missing = False


def _get() -> Any:
    global _analyzer, _missing
    if _analyzer is None and not _missing:
        with _lock:
            if _analyzer is None and not _missing:
                try:
                    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
                except ModuleNotFoundError:
                    _missing = True
                    log.warning("vaderSentiment is not installed: the lexicon prior is neutral")
                else:
                    _analyzer = SentimentIntensityAnalyzer()
    return _analyzer


def lexicon_available() -> bool:
    """Whether the VADER lexicon can be loaded."""
    return _get() is not None


def lexicon_score(text: str) -> float:
    """VADER's compound score of ``text`` in [-1, 1] (0.0 when VADER is unavailable)."""
    analyzer = _get()
    if analyzer is None or not text:
        return 0.0
    return float(analyzer.polarity_scores(text)["compound"])
