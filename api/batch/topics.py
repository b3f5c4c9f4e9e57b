"""`voc score --topics`: complaint topics for the rows of a scored file, added as topic_id and topic_label columns."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from api.batch.output import OutputWriter
from models.topics import TopicModel, discover
from nlp.files import BadRow, dataset_parts, iter_rows


def add_topics(output: str, text_col: str = "text", seed: int = 42, topic_model: str | None = None,
               embedder: Callable[[list[str]], np.ndarray] | None = None) -> int | None:
    """Fit topics on the scored rows of `output` (saved as a topic model named after the file), or assign them with
    the saved `topic_model`, and rewrite the file with the topic columns. Returns how many topics were fitted (None
    when assigning)."""
    rows = [r for _, r in iter_rows(output) if not isinstance(r, BadRow)]
    texts = [str(r.get(text_col) or "") for r in rows]
    fitted = None
    if topic_model:
        model = TopicModel.load(topic_model, embedder)
        assigned = model.transform(texts)
        names = {t: model.label(t) for t in set(assigned)}
    else:
        result, model = discover(texts, [str(i) for i in range(len(texts))], [r.get("sentiment_label") for r in rows],
                                 seed=seed, save_as=Path(output).stem, embedder=embedder)
        assigned, names = result.assignments, {t["id"]: t["label"] for t in result.topics}
        fitted = len(result.topics)
    dataset = Path(output).is_dir()  # `voc score --cluster`'s Parquet dataset
    tmp = str(Path(output) / ".topics.tmp.parquet") if dataset else output + ".topics.tmp" + Path(output).suffix
    writer = OutputWriter(tmp)
    for r, t in zip(rows, assigned):
        r["topic_id"], r["topic_label"] = t, names.get(t, "")
    for k in range(0, len(rows), 1000):
        writer.write(rows[k:k + 1000])
    writer.close()
    if dataset:  # the rows with their topics become the dataset's one part, written whole before the others go
        parts = dataset_parts(Path(output))
        os.replace(tmp, Path(output) / "part-000000.parquet")
        for p in parts:
            if p.name != "part-000000.parquet":
                p.unlink()
    else:
        os.replace(tmp, output)
    return fitted
