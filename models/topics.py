"""Complaint topic discovery with BERTopic, as a pipeline of swappable parts (TopicModel's constructor):

embed (the project's pretrained e5 encoder, never downloaded)
→ reduce (UMAP, seeded) → cluster (HDBSCAN) → represent (c-TF-IDF over a jieba-based
vectoriser: Chinese topic labels are words, English tokens stay whole, stop words go)
→ outliers reduced by embedding similarity → nearest taxonomy aspect per topic.

A fitted model is saved (``VOC_HOME/topics/NAME``) and assigns topics to new texts
later with `transform`, so topic ids stay stable between batches.
"""
from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from models.aspects import load_taxonomy
from models.paths import voc_home
from models.runtime.embedder import shared_embedder
from nlp.normalize import normalize_text
from nlp.tokenize import LEXICON, content_tokens, is_dictionary_word, tokenize

MIN_TEXTS = 20
# at most this many topics unless asked (--max-topics): near-duplicate topics are merged down to it (BERTopic's
# nr_topics: the most similar by c-TF-IDF first), so that a person can read the list
MAX_TOPICS = 25
LABEL_WORDS = 3  # words in a topic's label (2–4 read as a name; more reads as a sentence)
# Centroids are compared centred: the mean of a fit's unit embeddings subtracted first. e5 puts every review in a
# narrow cone (raw centroid cosines of 23 topics of 3,000 shopping reviews: 0.94–0.99, whatever the topics),
# and only what is left after the common direction tells topics apart.
# Topics of one fit this close (centred cosine) are one theme that HDBSCAN split: merged. On those 23 topics,
# 衣服/裤子 0.76, 苹果 and 苹果 0.71, two hotel topics 0.67 are above; drivers/tablets 0.60, 京东/物流 0.57 below.
NEAR_DUPLICATE = 0.65
# a new batch's topic at least this close (centred on the saved model's mean) to a saved topic is that topic
# (TopicModel.update)
SAME_TOPIC = 0.7
TOPIC_STOPWORDS = LEXICON / "topic_stopwords.txt"


class TopicError(ValueError):
    code = "topic_input"


@lru_cache(maxsize=1)
def topic_stopwords() -> frozenset[str]:
    lines = TOPIC_STOPWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(w for line in lines if not line.startswith("#") for w in line.split())


def topic_tokens(text: str) -> list[str]:
    """Vectoriser tokens: content words of 2+ characters (single characters make unreadable labels), not numbers
    and not the words of data/lexicon/topic_stopwords.txt (没有, 可以, 觉得: they name no complaint)."""
    stop = topic_stopwords()
    words = (t.lower() for t in content_tokens(tokenize(text)))
    return [t for t in words if len(t) > 1 and not t.isdigit() and t not in stop
            and (t.isascii() or is_dictionary_word(t))]  # whole words: not jieba's guesses (头用, 价买)


def min_topic_size(n_texts: int) -> int:
    """The fewest similar texts that make a topic (HDBSCAN's min_cluster_size): 1% of the texts, within 10–60."""
    return max(10, min(60, n_texts // 100))


def _bertopic_backend(embed: Callable[[list[str]], np.ndarray]):
    """`embed` as a BERTopic embedding backend (BERTopic accepts only its own BaseEmbedder)."""
    from bertopic.backend import BaseEmbedder  # BERTopic takes ~7 s to import: only topic runs load it

    class Backend(BaseEmbedder):
        def embed(self, documents, verbose=False):
            return embed(list(documents))

    return Backend()


def _near_duplicates(centroids: dict[int, np.ndarray]) -> list[list[int]]:
    """Groups of topics every two of which have centroids within NEAR_DUPLICATE (complete linkage, closest pairs
    first): a chain of neighbours, each a little different, is not one topic."""
    ids = sorted(centroids)
    group = {t: [t] for t in ids}
    sims = sorted(((float(centroids[a] @ centroids[b]), a, b) for i, a in enumerate(ids) for b in ids[i + 1:]), reverse=True)
    for sim, a, b in sims:
        if sim < NEAR_DUPLICATE:
            break
        ga, gb = group[a], group[b]
        if ga is not gb and all(float(centroids[x] @ centroids[y]) >= NEAR_DUPLICATE for x in ga for y in gb):
            ga.extend(gb)
            for t in gb:
                group[t] = ga
    unique = {id(g): g for g in group.values()}
    return [sorted(g) for g in unique.values() if len(g) > 1]


def _label(words: list[tuple[str, float]]) -> str:
    """A topic's name: its LABEL_WORDS best c-TF-IDF words, each a whole word (topic_tokens) that is not part of
    one already taken nor contains one (物流 after 物流很快 adds nothing)."""
    chosen: list[str] = []
    for w, _ in words:
        if not any(w in c or c in w for c in chosen):
            chosen.append(w)
        if len(chosen) == LABEL_WORDS:
            break
    return " / ".join(chosen)


@dataclass
class TopicResult:
    topics: list[dict]
    assignments: list[int]
    over_time: list[dict] | None = None
    per_class: list[dict] | None = None
    note: str | None = None  # why the result holds no topic but the outliers, when it does not

    def to_json(self, ids: list[str]) -> dict:
        out = {"topics": self.topics, "assignments": [{"id": i, "topic_id": t} for i, t in zip(ids, self.assignments)]}
        if self.note:
            out["note"] = self.note
        if self.over_time is not None:
            out["over_time"] = self.over_time
        if self.per_class is not None:
            out["per_class"] = self.per_class
        return out


class TopicModel:
    """BERTopic over parts that can be swapped, as in BERTopic's own constructor. Each part left None is the
    project's default, made when it is needed: `embedder` (texts → vectors: the pretrained e5 encoder,
    models.runtime.embedder), `reducer` (UMAP, seeded), `clusterer` (HDBSCAN, min_topic_size of the texts fitted)
    and `vectorizer` (counts of `topic_tokens`, for c-TF-IDF). Constructing one loads nothing."""

    def __init__(self, embedder: Callable[[list[str]], np.ndarray] | None = None, reducer=None, clusterer=None,
                 vectorizer=None, seed: int = 42, max_topics: int = MAX_TOPICS):
        self.embedder, self.reducer, self.clusterer, self.vectorizer = embedder, reducer, clusterer, vectorizer
        self.seed, self.max_topics = seed, max_topics
        # topic id -> {"label", "keywords"}: saved with the model, so that a topic keeps its label across updates
        self.topic_info: dict[int, dict] = {}
        self.model = None  # the fitted (or loaded) BERTopic
        self.centroids: dict[int, np.ndarray] = {}  # topic id -> unit mean centred embedding of its texts (assigns new texts)
        self.center: np.ndarray | None = None  # the mean unit embedding of the texts fitted (see NEAR_DUPLICATE)

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.embedder is None:
            self.embedder = shared_embedder()
        return self.embedder(list(texts))

    def _centred(self, embeddings: np.ndarray) -> np.ndarray:
        e = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-9)
        return e - self.center if self.center is not None else e

    def _centroids(self, embeddings: np.ndarray, topics: list[int]) -> dict[int, np.ndarray]:
        e = self._centred(embeddings)
        t = np.array(topics)
        out = {}
        for tid in set(topics) - {-1}:
            c = e[t == tid].mean(0)
            out[int(tid)] = c / (np.linalg.norm(c) or 1.0)
        return out

    def _bertopic(self, n: int):
        # BERTopic, HDBSCAN, UMAP and scikit-learn take seconds to import: only topic runs load them
        from bertopic import BERTopic
        from hdbscan import HDBSCAN
        from sklearn.feature_extraction.text import CountVectorizer
        from umap import UMAP

        min_cluster = min_topic_size(n)
        return BERTopic(
            embedding_model=_bertopic_backend(self.embed),
            # n_jobs=1: a seed makes UMAP single-threaded anyway (it warns when overriding the default)
            umap_model=self.reducer or UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                                            random_state=self.seed, n_jobs=1),
            hdbscan_model=self.clusterer or HDBSCAN(min_cluster_size=min_cluster, min_samples=max(2, min_cluster // 3),
                                                    metric="euclidean", cluster_selection_method="leaf",  # leaf: finer, readable topics
                                                    prediction_data=True),
            # min_df counts topics, not documents (c-TF-IDF joins each topic's documents)
            vectorizer_model=self.vectorizer or CountVectorizer(tokenizer=topic_tokens, token_pattern=None, lowercase=False),
            top_n_words=10, calculate_probabilities=False, nr_topics=self.max_topics)

    def fit(self, texts: list[str]) -> tuple[list[int], np.ndarray]:
        """Fit on `texts`: each text's topic (-1: outlier) and its embedding."""
        texts = [normalize_text(t) for t in texts]  # the model sees normalised text (Traditional → Simplified etc.)
        distinct = len(set(texts))
        if len(texts) < MIN_TEXTS or distinct < MIN_TEXTS:
            raise TopicError(f"topic discovery needs at least {MIN_TEXTS} distinct texts; got {len(texts)} "
                             f"({distinct} distinct)")
        random.seed(self.seed)
        np.random.seed(self.seed)
        embeddings = self.embed(texts)
        model = self._bertopic(len(texts))
        try:
            topics, _ = model.fit_transform(texts, embeddings)
        except (ValueError, TypeError) as e:  # e.g. every token is a stop word
            raise TopicError(f"no topics could be formed from these texts ({e})") from e
        if set(topics) - {-1}:
            if -1 in topics:
                topics = model.reduce_outliers(texts, topics, strategy="embeddings", embeddings=embeddings, threshold=0.0)
                model.update_topics(texts, topics=topics, vectorizer_model=model.vectorizer_model)
        topics = list(map(int, topics))
        unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-9)
        self.center = unit.mean(0).astype(np.float32)
        groups = _near_duplicates(self._centroids(embeddings, topics))
        if groups:  # one theme split in two by HDBSCAN reads as two topics of the same name: merged
            model.merge_topics(texts, groups)
            topics = list(map(int, model.topics_))
        self.model, self.centroids = model, self._centroids(embeddings, topics)
        self.topic_info = {t: {"label": _label(model.get_topic(t) or []),
                               "keywords": [[w, round(float(x), 4)] for w, x in (model.get_topic(t) or [])[:10]]}
                           for t in self.centroids}
        return topics, embeddings

    def update(self, texts: list[str]) -> tuple[list[int], np.ndarray, dict[int, int]]:
        """Fit a new batch and fold its topics into this (saved) model: a new topic whose centroid is within
        SAME_TOPIC of a saved one takes that topic's id (and keeps its label); any other gets the next unused id,
        with its own label and centroid. Returns the batch's topics in this model's ids, its embeddings and the
        mapping from the batch's own topic ids."""
        batch = TopicModel(self.embedder, seed=self.seed, max_topics=self.max_topics)
        topics, embeddings = batch.fit(texts)
        self.embedder = batch.embedder
        if self.center is None:  # a model saved before centring: centred on this batch from now on
            self.center = batch.center
        ours = self._centroids(embeddings, topics)  # the batch's topics, centred as this model's are
        mapping, next_id = {-1: -1}, max(self.centroids, default=-1) + 1
        for t in sorted(ours, key=lambda t: -topics.count(t)):
            c = ours[t]
            best = max(self.centroids, key=lambda s: float(c @ self.centroids[s]), default=None)
            if best is not None and float(c @ self.centroids[best]) >= SAME_TOPIC:
                mapping[t] = best
            else:
                mapping[t], next_id = next_id, next_id + 1
                self.centroids[mapping[t]] = c
                self.topic_info[mapping[t]] = batch.topic_info[t]
        if self.model is None:
            self.model = batch.model
        return [mapping[t] for t in topics], embeddings, mapping

    def transform(self, texts: list[str]) -> list[int]:
        """The topic whose centroid is nearest (cosine): deterministic, and ids never change between batches."""
        if not self.centroids:
            return [-1] * len(texts)
        ids = sorted(self.centroids)
        e = self._centred(self.embed([normalize_text(t) for t in texts]))
        return [ids[i] for i in (e @ np.stack([self.centroids[t] for t in ids]).T).argmax(1)]

    def label(self, topic_id: int) -> str:
        if topic_id == -1:
            return "outliers"
        info = self.topic_info.get(topic_id)
        return info["label"] if info and info["label"] else str(topic_id)

    def keywords(self, topic_id: int) -> list[dict]:
        info = self.topic_info.get(topic_id) or {}
        return [{"word": w, "weight": x} for w, x in info.get("keywords", [])]

    def describe(self, texts: list[str], topics: list[int], labels: list[str] | None, aspect_vectors=None,
                 aspect_keys=None, embeddings: np.ndarray | None = None) -> list[dict]:
        """Readable topics: id, label, weighted keywords, size, negative share, nearest aspect, 3 examples."""
        topics_arr = np.array(topics)
        out = []
        for tid in sorted(set(topics), key=lambda t: (-int((topics_arr == t).sum()), t)):
            members = np.flatnonzero(topics_arr == tid)
            entry = {"id": int(tid), "label": self.label(tid), "keywords": self.keywords(tid) if tid != -1 else [],
                     "size": int(len(members))}
            if labels is not None:
                entry["negative_share"] = round(float(np.mean([labels[i] == "negative" for i in members])), 4)
            if embeddings is not None and aspect_vectors is not None and tid != -1:
                centre = embeddings[members].mean(0)
                centre /= np.linalg.norm(centre) or 1
                entry["aspect"] = aspect_keys[int(np.argmax(aspect_vectors @ centre))]
            if embeddings is not None and len(members):
                centre = embeddings[members].mean(0)
                order = members[np.argsort(-(embeddings[members] @ centre))]
                seen, examples = set(), []
                for i in order:  # the texts nearest the topic's centre, without repeats
                    if texts[i] not in seen:
                        seen.add(texts[i]); examples.append(texts[i])
                    if len(examples) == 3:
                        break
                entry["examples"] = examples
            out.append(entry)
        return out

    def save(self, name: str) -> Path:
        import bertopic  # ~7 s to import: only topic runs load it

        path = topics_dir() / name
        path.mkdir(parents=True, exist_ok=True)
        # BERTopic warns on every pickle save that loading needs the same versions; load() checks that itself
        log = logging.getLogger("BERTopic")
        level = log.level
        log.setLevel(logging.ERROR)
        try:
            self.model.save(str(path / "bertopic.pkl"), serialization="pickle", save_embedding_model=False)
        finally:
            log.setLevel(level)
        (path / "versions.json").write_text(json.dumps({"bertopic": bertopic.__version__}), encoding="utf-8")
        np.savez(path / "centroids.npz", **{str(k): v for k, v in self.centroids.items()},
                 **({"center": self.center} if self.center is not None else {}))
        (path / "topics.json").write_text(json.dumps({str(k): v for k, v in self.topic_info.items()}, ensure_ascii=False,
                                                     indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, name: str, embedder: Callable[[list[str]], np.ndarray] | None = None) -> "TopicModel":
        """A saved model (`save`), assigning with `embedder` (default: the pretrained e5 encoder)."""
        import bertopic  # ~7 s to import: only topic runs load it
        from bertopic import BERTopic

        path = topics_dir() / name / "bertopic.pkl"
        if not path.exists():
            raise TopicError(f"no saved topic model named {name!r} (looked in {path.parent})")
        versions = path.parent / "versions.json"
        saved = json.loads(versions.read_text(encoding="utf-8")).get("bertopic") if versions.exists() else None
        if saved is not None and saved != bertopic.__version__:  # a pickle from another version may not load right
            raise TopicError(f"topic model {name!r} was saved with BERTopic {saved}, this install has "
                             f"{bertopic.__version__}: fit it again (voc topics FILE --save {name})")
        model = cls(embedder)
        with np.load(path.parent / "centroids.npz") as c:
            model.centroids = {int(k): c[k] for k in c.files if k != "center"}
            model.center = c["center"] if "center" in c.files else None
        info = path.parent / "topics.json"
        if info.exists():
            model.topic_info = {int(k): v for k, v in json.loads(info.read_text(encoding="utf-8")).items()}
        model.model = BERTopic.load(str(path), embedding_model=_bertopic_backend(model.embed))
        for t in model.centroids:  # a model saved before topics.json: labels from its own representation
            if t not in model.topic_info:
                words = model.model.get_topic(t) or []
                model.topic_info[t] = {"label": _label(words), "keywords": [[w, round(float(x), 4)] for w, x in words[:10]]}
        return model


def topics_dir() -> Path:
    d = voc_home() / "topics"
    d.mkdir(parents=True, exist_ok=True)
    return d


def aspect_space(embed: Callable[[list[str]], np.ndarray]):
    """Centroids of each taxonomy aspect's examples, for naming the nearest aspect of a topic."""
    aspects, _ = load_taxonomy()
    vecs = []
    for a in aspects:
        v = embed([a.description] + a.examples).mean(0)
        vecs.append(v / np.linalg.norm(v))
    return np.stack(vecs), [a.key for a in aspects]


PERIODS = {"day": "D", "week": "W", "month": "M"}


def over_time(timestamps: list, topics: list[int], label: Callable[[int], str], period: str | None = None) -> list[dict]:
    """Topic counts per calendar period: `day` (2026-11-03), ISO `week` (2026-W45) or `month` (2026-11); by default
    the finest that gives at most 60 periods. Times are read as written (wall time, any offset dropped); rows
    whose time cannot be read are left out."""
    import pandas as pd  # ~0.4 s: only runs over time pay for it (every `voc` command imports this module)

    from nlp.files import parse_when

    if period is not None and period not in PERIODS:
        raise TopicError(f"unknown period {period!r}; use day, week or month")
    when = []
    for t, topic in zip(timestamps, topics):
        ts = parse_when(t)
        if ts is not None:
            when.append((ts.tz_localize(None) if ts.tzinfo is not None else ts, topic))
    if not when:
        return []
    if period is None:
        days = (max(t for t, _ in when) - min(t for t, _ in when)).days
        period = "day" if days < 60 else "week" if days < 60 * 7 else "month"

    def name(t: pd.Timestamp) -> str:
        if period == "week":
            year, week, _ = t.isocalendar()
            return f"{year}-W{week:02d}"
        return t.strftime("%Y-%m-%d" if period == "day" else "%Y-%m")

    counts: dict[tuple[str, int], int] = {}
    for t, topic in when:
        key = (name(t), topic)
        counts[key] = counts.get(key, 0) + 1
    return [{"period": p, "period_type": period, "topic": topic, "label": label(topic), "count": n}
            for (p, topic), n in sorted(counts.items())]


def discover(texts: list[str], ids: list[str], sentiments: list[str] | None = None, seed: int = 42,
             negative_only: bool = False, timestamps: list | None = None, classes: list | None = None,
             save_as: str | None = None, embedder: Callable[[list[str]], np.ndarray] | None = None,
             update: str | None = None, max_topics: int = MAX_TOPICS, period: str | None = None
             ) -> tuple[TopicResult, "TopicModel"]:
    """Fit topics on a batch (optionally only its negative texts) and describe them. `embedder`: see TopicModel.
    `update`: the name of a saved model that the batch updates (TopicModel.update: its topics keep their ids and
    labels, new ones get new ids), saved again under `save_as` (default: the same name). `period`: of over_time."""
    if not 0 <= seed < 2**32:  # what numpy and UMAP accept
        raise TopicError(f"seed must be from 0 to 2**32 - 1, not {seed}")
    if max_topics < 2:
        raise TopicError(f"max_topics must be at least 2, not {max_topics}")
    if negative_only:
        if sentiments is None:
            raise TopicError("--negative-only needs sentiment labels")
        keep = [i for i, s in enumerate(sentiments) if s == "negative"]
    else:
        keep = list(range(len(texts)))
    sub_texts = [texts[i] for i in keep]
    if update:
        if classes is not None:
            raise TopicError("topics per group (--by) need a fresh fit, not --update")
        model = TopicModel.load(update, embedder)
        model.seed, model.max_topics = seed, max_topics
        sub_topics, emb, _ = model.update(sub_texts)
        save_as = save_as or update
    else:
        model = TopicModel(embedder, seed=seed, max_topics=max_topics)
        sub_topics, emb = model.fit(sub_texts)
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)
    vectors, keys = aspect_space(model.embed)
    sub_labels = [sentiments[i] for i in keep] if sentiments is not None else None
    described = model.describe(sub_texts, sub_topics, sub_labels, vectors, keys, emb)
    assignments = [-1] * len(texts)  # texts left out by --negative-only stay unassigned (-1)
    for i, t in zip(keep, sub_topics):
        assignments[i] = t
    result = TopicResult(described, assignments)
    if not set(sub_topics) - {-1}:
        result.note = (f"no topic found: no group of {min_topic_size(len(sub_texts))} or more similar texts among "
                       f"these {len(sub_texts)}, so every text is an outlier (topic -1); topics need a few hundred texts")
    if timestamps is not None:
        result.over_time = over_time([timestamps[i] for i in keep], sub_topics, model.label, period)
    if classes is not None:
        df = model.model.topics_per_class(sub_texts, [str(classes[i]) for i in keep])
        result.per_class = json.loads(df.to_json(orient="records", force_ascii=False))
    if save_as:
        model.save(save_as)
    return result, model
