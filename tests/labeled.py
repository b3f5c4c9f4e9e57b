"""Synthetic labeled reviews: characters that carry a class, so a tiny model learns them in seconds."""
import random

from models.classifier import LABELS
from training.data import Example

POS, NEG, NEU = "好很棒快便宜", "差太烂坏慢贵", "的一是了在有"


def synthetic(n: int, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = LABELS[i % 3]
        chars = {"positive": POS, "negative": NEG, "neutral": NEU}[label]
        out.append(Example("".join(rng.choice(chars + NEU) for _ in range(rng.randint(4, 12))) + chars[i % len(chars)] * 2, label))
    return out

