"""The fast-mode student (models/fast.py)."""
import numpy as np

from models.fast import FastScorer, adjacent_pairs


def test_fast_student_adds_the_logits_of_known_token_pairs_in_order():
    """fastText-style pairs: "not good" gets its own logits on top of "not" and "good", only in that order,
    only within one text, divided by the token count as in distillation."""
    words = ["not", "good", "bad"]
    vectors = np.array([[0.0, 1.0], [2.0, 0.0], [-2.0, 0.0], [0.0, 0.0]], np.float32)  # + the zero row
    coef = np.array([[-1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], np.float32)  # negative, neutral, positive
    n = len(vectors)
    pair = (np.array([0 * n + 1]), np.array([[4.0, 0.0, -4.0]], np.float32))  # "not good" leans negative
    plain = FastScorer(None, vectors, np.zeros(10, np.int64), coef, np.zeros(3, np.float32), {}, words=words)
    paired = FastScorer(None, vectors, np.zeros(10, np.int64), coef, np.zeros(3, np.float32), {}, words=words,
                        pairs=pair)
    texts = ["not good", "good not", "good"]
    a, b = plain.score_texts(texts), paired.score_texts(texts)
    assert b[0].score < a[0].score - 0.5 and b[0].label == "negative"  # the pair counted, over 2 tokens
    assert [x.score for x in a[1:]] == [x.score for x in b[1:]]  # reversed order, or a single word: no pair
    keys, text_of = adjacent_pairs(np.array([0, 1, 0, 1]), np.array([0, 2]), n)
    assert keys.tolist() == [1, 1] and text_of.tolist() == [0, 1]  # no pair across the two texts

