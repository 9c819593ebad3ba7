"""A CTranslate2 Whisper of a given size with random weights, for timing where real weights cannot be fetched.

transformers' ``WhisperConfig`` with the size's dimensions -> a randomly initialised
``WhisperForConditionalGeneration`` -> ``ctranslate2.converters.TransformersConverter`` (float16). The
tokenizer is the packaged Whisper base model's (``tokenizer.json``: 50,364 tokens); the converter pads
the vocabulary with timestamp tokens up to the size's ``vocab_size``. For large-v3 that is 51,866 tokens
like the real model, but laid out as base's: large-v3 has one more language token (Cantonese) and its
special tokens sit one id later. A ``preprocessor_config.json`` gives faster-whisper the size's mel bins
(128 for large-v3, 80 before it). The converter's default alignment heads (every head of the decoder's
second half) are replaced by as many heads as the real model uses, so word timing costs what it does
with real weights.

The model's text is noise, and a random decoder seldom ends a window by itself: cap it with the
transcriber's ``max_new_tokens`` at the tokens real speech gives, and the work per window is the real
model's.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import attrs

__all__ = ["SIZES", "WhisperDims", "build_random_whisper"]


@attrs.frozen
class WhisperDims:
    """The dimensions that set a Whisper model's compute."""

    d_model: int
    layers: int
    heads: int
    mels: int
    vocab: int
    alignment_heads: int

    @property
    def ffn(self) -> int:
        return 4 * self.d_model


SIZES: dict[str, WhisperDims] = {
    "large-v3": WhisperDims(d_model=1280, layers=32, heads=20, mels=128, vocab=51866, alignment_heads=10),
    # the smallest model with large-v3's mel bins and vocabulary, to check the build where compute is scarce
    "random-tiny": WhisperDims(d_model=384, layers=4, heads=6, mels=128, vocab=51866, alignment_heads=6),
}


def _generation_config(transformers: Any, base: dict[str, Any], dims: WhisperDims) -> Any:
    half = dims.layers // 2
    heads = [[half + i % (dims.layers - half), (i * 7) % dims.heads] for i in range(dims.alignment_heads)]
    return transformers.GenerationConfig(
        decoder_start_token_id=50258,
        eos_token_id=50257,
        pad_token_id=50257,
        suppress_tokens=base["suppress_ids"],
        begin_suppress_tokens=base["suppress_ids_begin"],
        alignment_heads=heads,
        lang_to_id={f"<|lang{i}|>": token for i, token in enumerate(base["lang_ids"])},
        max_length=448,
    )


def build_random_whisper(size: str, out_dir: Path, base_model_dir: Path, *, seed: int = 0) -> Path:
    """Write a CTranslate2 Whisper of ``size``'s dimensions with random float16 weights into ``out_dir``.

    Args:
        size: A key of `SIZES`.
        out_dir: The model folder to write (``model.bin``, ``config.json``, ``tokenizer.json``,
            ``preprocessor_config.json``, ``vocabulary.json``); reused when complete.
        base_model_dir: The packaged base model's folder (its tokenizer and token lists are taken).
        seed: torch's seed for the random weights.
    """
    if (out_dir / "model.bin").is_file() and (out_dir / "preprocessor_config.json").is_file():
        return out_dir
    import ctranslate2.converters
    import torch  # noqa: TID251  # a benchmark helper, not dubkit
    import transformers

    dims = SIZES[size]
    base = json.loads((base_model_dir / "config.json").read_text())
    config = transformers.WhisperConfig(
        vocab_size=dims.vocab,
        num_mel_bins=dims.mels,
        d_model=dims.d_model,
        encoder_layers=dims.layers,
        decoder_layers=dims.layers,
        encoder_attention_heads=dims.heads,
        decoder_attention_heads=dims.heads,
        encoder_ffn_dim=dims.ffn,
        decoder_ffn_dim=dims.ffn,
        max_source_positions=1500,
        max_target_positions=448,
        decoder_start_token_id=50258,
        bos_token_id=50257,
        eos_token_id=50257,
        pad_token_id=50257,
    )
    torch.manual_seed(seed)
    model = transformers.WhisperForConditionalGeneration(config)
    model.generation_config = _generation_config(transformers, base, dims)
    preprocessor = {
        "feature_extractor_type": "WhisperFeatureExtractor",
        "feature_size": dims.mels,
        "sampling_rate": 16000,
        "hop_length": 160,
        "chunk_length": 30,
        "n_fft": 400,
        "n_samples": 480000,
        "nb_max_frames": 3000,
        "padding_side": "right",
        "padding_value": 0.0,
        "return_attention_mask": False,
    }
    with tempfile.TemporaryDirectory(prefix="random-whisper-") as tmp:
        hf_dir = Path(tmp)
        model.to(torch.float16).save_pretrained(hf_dir)
        del model
        shutil.copyfile(base_model_dir / "tokenizer.json", hf_dir / "tokenizer.json")
        (hf_dir / "tokenizer_config.json").write_text(
            json.dumps({"tokenizer_class": "WhisperTokenizerFast", "model_max_length": 448})
        )
        (hf_dir / "preprocessor_config.json").write_text(json.dumps(preprocessor))
        converter = ctranslate2.converters.TransformersConverter(
            str(hf_dir), copy_files=["tokenizer.json", "preprocessor_config.json"], load_as_float16=True
        )
        converter.convert(str(out_dir), quantization="float16", force=True)
    return out_dir
