#!/usr/bin/env python3
"""Make a tiny random Qwen2 model and its tokenizer from local text, with no model hub, the same bytes every time.

The real-stack tests train, merge and serve it with the real LLaMA-Factory and vLLM on a CPU:
a byte-level BPE (vocab ~2,000) trained on the sample workspace's text with Qwen's special tokens
and chat template, and a 2-layer Qwen2 whose head_dim is 64 (vLLM's CPU attention needs >= 64).
Run it with a Python that has torch, transformers and tokenizers (the LLaMA-Factory venv does):

    python scripts/make_tiny_qwen.py --out DIR [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample_workspace"
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# hidden 256 / 4 heads = head_dim 64; 2 KV heads; ~1.7 M parameters.
CONFIG = dict(hidden_size=256, num_attention_heads=4, num_key_value_heads=2, intermediate_size=512,
              num_hidden_layers=2, max_position_embeddings=4096, tie_word_embeddings=True, rope_theta=10000.0)


def corpus() -> list[str]:
    """Every text of the sample workspace: the SFT turns and the benchmark problems and answers."""
    texts: list[str] = []
    for item in json.loads((SAMPLE / "datasets" / "pot_sample.json").read_text(encoding="utf-8")):
        texts.extend(turn["value"] for turn in item.get("conversations", []) if isinstance(turn.get("value"), str))
    for line in (SAMPLE / "benchmarks" / "sample.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            texts.extend(str(v) for v in rec.values() if isinstance(v, str))
    # The prompt templates' phrases, so observation turns tokenize to something the model has seen.
    for path in sorted((REPO / "configs" / "prompts").glob("*.yaml")):
        texts.append(path.read_text(encoding="utf-8"))
    return texts


def make_tokenizer(out: Path, vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None, unk_token=None, additional_special_tokens=["<|im_start|>"])
    fast.chat_template = CHAT_TEMPLATE
    fast.model_max_length = CONFIG["max_position_embeddings"]
    fast.save_pretrained(out)
    return fast


def make_model(out: Path, tokenizer, seed: int) -> int:
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    cfg = Qwen2Config(vocab_size=len(tokenizer), bos_token_id=pad, eos_token_id=im_end, pad_token_id=pad,
                      torch_dtype="float32", **CONFIG)
    model = Qwen2ForCausalLM(cfg)
    model.save_pretrained(out, safe_serialization=True)
    GenerationConfig(eos_token_id=im_end, pad_token_id=pad, bos_token_id=pad).save_pretrained(out)
    return sum(p.numel() for p in model.parameters())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path, help="folder to write the model and tokenizer into")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vocab-size", type=int, default=2000)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tokenizer(args.out, args.vocab_size)
    n = make_model(args.out, tokenizer, args.seed)
    print(json.dumps({"out": str(args.out), "parameters": n, "vocab": len(tokenizer)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
