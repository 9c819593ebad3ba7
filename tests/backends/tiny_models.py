"""Tiny models with random weights, built with the real classes and saved the way each library saves them.

No hub is reached: each builder writes files that the backend then loads through its normal loading
path. The weights are random, so outputs are gibberish; tests check shapes, times and plumbing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

#: Lines the tiny sentencepiece model is trained on.
CORPUS = (
    "the quick brown fox jumps over the lazy dog",
    "hello world how are you today",
    "el rapido zorro marron salta sobre el perro perezoso",
    "hola mundo como estas hoy",
)


def whisper_checkpoint(path: Path) -> Path:
    """An openai-whisper checkpoint (``{"dims", "model_state_dict"}``) with the multilingual vocabulary."""
    import torch  # noqa: TID251
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(0)
    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=32,
        n_audio_head=2,
        n_audio_layer=1,
        n_vocab=51865,
        n_text_ctx=24,
        n_text_state=32,
        n_text_head=2,
        n_text_layer=1,
    )
    model = Whisper(dims)
    # Whisper leaves the decoder's positional embedding uninitialised (torch.empty): real checkpoints fill it.
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.02)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": dims.__dict__, "model_state_dict": model.state_dict()}, path)
    return path


def nllb_model(directory: Path) -> Path:
    """A tiny M2M100 model with an NLLB tokenizer built from a sentencepiece model trained here."""
    import sentencepiece as spm
    import torch  # noqa: TID251
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    work = directory.parent / f"{directory.name}.spm"
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "corpus.txt"
    corpus.write_text("\n".join(CORPUS * 10), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(work / "spm"),
        vocab_size=40,
        model_type="unigram",
        character_coverage=1.0,
        bos_id=0,
        pad_id=1,
        eos_id=2,
        unk_id=3,
        minloglevel=2,
    )
    shutil.copy(work / "spm.model", work / "sentencepiece.bpe.model")
    tokenizer = NllbTokenizer.from_pretrained(
        work,
        local_files_only=True,
        src_lang="eng_Latn",
        tgt_lang="spa_Latn",
        additional_special_tokens=FAIRSEQ_LANGUAGE_CODES,
    )
    config = M2M100Config(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    M2M100ForConditionalGeneration(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def vits_model(directory: Path, *, sampling_rate: int = 16000) -> Path:
    """A tiny VITS (MMS-TTS architecture) with a character vocabulary, ``phonemize=False``."""
    import torch  # noqa: TID251
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    chars = list("abcdefghijklmnopqrstuvwxyzáéíóúñü' ")
    vocab = {c: i for i, c in enumerate(chars)}
    vocab["<pad>"] = len(vocab)
    vocab["<unk>"] = len(vocab)
    vocab_file = directory / "vocab.json"
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = VitsTokenizer(vocab_file=str(vocab_file), phonemize=False, add_blank=True, normalize=True)
    config = VitsConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        ffn_dim=32,
        flow_size=16,
        spectrogram_bins=33,
        upsample_initial_channel=16,
        upsample_rates=[8, 8],
        upsample_kernel_sizes=[16, 16],
        resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3]],
        duration_predictor_filter_channels=16,
        duration_predictor_num_flows=1,
        prior_encoder_num_flows=1,
        prior_encoder_num_wavenet_layers=1,
        posterior_encoder_num_wavenet_layers=1,
        depth_separable_num_layers=1,
        sampling_rate=sampling_rate,
        pad_token_id=vocab["<pad>"],
    )
    torch.manual_seed(0)
    VitsModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _save_pyannote_model(model: object, directory: Path) -> None:
    """Save a pyannote Model the way pyannote/lightning checkpoints are laid out (``pytorch_model.bin``)."""
    import lightning
    import torch  # noqa: TID251

    directory.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "state_dict": model.state_dict(),  # type: ignore[attr-defined]
        "hyper_parameters": dict(model.hparams),  # type: ignore[attr-defined]
        "pytorch-lightning_version": lightning.__version__,
    }
    model.on_save_checkpoint(checkpoint)  # type: ignore[attr-defined]
    torch.save(checkpoint, directory / "pytorch_model.bin")


def pyannote_pipeline(directory: Path) -> Path:
    """A speaker-diarization pipeline directory laid out like ``pyannote/speaker-diarization-community-1``.

    ``config.yaml`` names ``$model/segmentation`` (a tiny PyanNet, powerset of 3 speakers),
    ``$model/embedding`` (a small XVectorMFCC) and ``$model/plda`` (random PLDA transforms), all random.
    """
    import warnings

    import numpy as np
    import torch  # noqa: TID251
    import yaml

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*torchcodec is not installed")
        from pyannote.audio.core.task import Problem, Resolution, Specifications
        from pyannote.audio.models.embedding.xvector import XVectorMFCC
        from pyannote.audio.models.segmentation import PyanNet

    torch.manual_seed(0)
    segmentation = PyanNet(
        lstm={"hidden_size": 8, "num_layers": 1}, linear={"hidden_size": 8, "num_layers": 1}
    )
    segmentation.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION,
        resolution=Resolution.FRAME,
        duration=2.0,
        classes=["speaker#1", "speaker#2", "speaker#3"],
        powerset_max_classes=2,
        permutation_invariant=True,
    )
    segmentation.build()
    _save_pyannote_model(segmentation, directory / "segmentation")

    embedding = XVectorMFCC(dimension=32, mfcc={"melkwargs": {"n_mels": 40}})
    embedding.specifications = Specifications(
        problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=2.0
    )
    embedding.build()
    _save_pyannote_model(embedding, directory / "embedding")

    rng = np.random.default_rng(0)
    dim, lda = 32, 8
    (directory / "plda").mkdir(parents=True, exist_ok=True)
    np.savez(
        directory / "plda" / "xvec_transform.npz",
        mean1=rng.normal(size=dim),
        mean2=rng.normal(size=lda),
        lda=rng.normal(size=(dim, lda)),
    )
    rotation, _ = np.linalg.qr(rng.normal(size=(lda, lda)))
    np.savez(
        directory / "plda" / "plda.npz",
        mu=rng.normal(size=lda),
        tr=rotation,
        psi=np.abs(rng.normal(size=lda)) + 0.5,
    )
    config = {
        "pipeline": {
            "name": "pyannote.audio.pipelines.SpeakerDiarization",
            "params": {
                "segmentation": "$model/segmentation",
                "embedding": "$model/embedding",
                "plda": "$model/plda",
                "clustering": "VBxClustering",
                "embedding_batch_size": 8,
                "segmentation_batch_size": 8,
            },
        },
        "params": {
            "segmentation": {"min_duration_off": 0.0},
            "clustering": {"threshold": 0.6, "Fa": 0.07, "Fb": 0.8},
        },
    }
    (directory / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return directory


def demucs_model(path: Path, *, samplerate: int = 44100, audio_channels: int = 2) -> Path:
    """A tiny HTDemucs saved as demucs saves a model package (``klass``, ``args``, ``kwargs``, ``state``)."""
    import torch  # noqa: TID251
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(0)
    model = HTDemucs(
        sources=["drums", "bass", "other", "vocals"],
        audio_channels=audio_channels,
        channels=8,
        dconv_comp=4,
        depth=2,
        nfft=512,
        t_layers=1,
        t_heads=1,
        segment=1,
        samplerate=samplerate,
        dconv_depth=1,
    )
    args, kwargs = model._init_args_kwargs
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"klass": HTDemucs, "args": args, "kwargs": kwargs, "state": model.state_dict()}, path)
    return path
