"""A tiny randomly initialised BERT and a character tokenizer built here, so that training
and inference code paths run in seconds without the real model."""
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from models.classifier import SentimentNet

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # same ids as the real XLM-R vocabulary: bos 0, pad 1, eos 2, unk 3
ALPHABET = ("的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与好差很太慢快棒烂坏质量物流客服退款色包装价格贵便宜"
            "abcdefghijklmnopqrstuvwxyz0123456789:.,!?，。！？")


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {t: i for i, t in enumerate(SPECIALS + sorted(set(ALPHABET)))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Split(Regex("."), behavior="isolated")])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>", model_max_length=512)


def tiny_net(seed: int = 0) -> SentimentNet:
    import torch

    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(SPECIALS) + len(set(ALPHABET)), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=512, pad_token_id=1)
    return SentimentNet(BertModel(cfg, add_pooling_layer=False))
