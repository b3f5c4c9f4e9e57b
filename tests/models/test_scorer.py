"""Both scorers implement the protocol the analyzer, the aspect model, batch scoring and the API use."""
import numpy as np

from models.classifier import LABELS
from models.fast import FastScorer
from models.scorer import Scorer
from models.sentiment import SentimentScorer


def test_the_accurate_and_the_fast_scorer_are_scorers(trained):
    net, tok, _ = trained
    accurate = SentimentScorer(net, tok, {"labels": list(LABELS), "prefix": "", "name": "tiny"}, threads=1)
    z = np.zeros((4, 2), np.float32)
    fast = FastScorer(None, z, np.zeros(4, np.int64), np.zeros((3, 2), np.float32), np.zeros(3, np.float32), {})
    for scorer in (accurate, fast):
        assert isinstance(scorer, Scorer)
    assert fast.heads is None and fast.net is None and fast.engine == "fast"
    assert accurate.engine == "torch"
