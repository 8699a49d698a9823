"""Teacher corpus shards and the training loop: format round trip, a real shard
from the TTS engines, training that writes loadable weights and resumes."""

import dataclasses
import shutil

import numpy as np
import pytest
import torch

from talkinghead.audio2motion.model import ModelConfig, load_model, save_model
from talkinghead.audio2motion.phones import PHONE_INDEX, PHONES
from talkinghead.audio2motion.training.corpus import (
    Example,
    read_corpus,
    read_shard,
    shard_indices,
    shard_path,
    write_shard,
)
from talkinghead.audio2motion.training.train import Heard, TrainConfig, train
from talkinghead.contracts.arkit import ARKIT_INDEX

SMALL = ModelConfig(dim=32, layers=1, heads=2, context_steps=16, norm_window=40, max_lookahead_steps=2)


def synthetic_example(rng: np.random.Generator, steps: int) -> Example:
    return Example(
        mel=rng.normal(-5, 2, (2 * steps, 80)).astype(np.float32),
        weights=rng.uniform(0, 1, (steps, 52)).astype(np.float32),
        phones=rng.integers(0, len(PHONES), steps),
        meta={"text": f"utterance of {steps} steps"},
    )


def test_shard_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    examples = [synthetic_example(rng, n) for n in (10, 37, 5)]
    write_shard(shard_path(tmp_path, 3), examples)
    assert shard_indices(tmp_path) == [3]
    back = read_shard(shard_path(tmp_path, 3))
    for a, b in zip(examples, back):
        assert np.abs(a.mel - b.mel).max() < 0.01  # float16
        assert np.abs(a.weights - b.weights).max() <= 0.5 / 255 + 1e-6  # uint8
        assert np.array_equal(a.phones, b.phones)
        assert a.meta == b.meta


def test_shards_keep_their_audio_when_given(tmp_path):
    rng = np.random.default_rng(1)
    examples = [synthetic_example(rng, n) for n in (10, 4)]
    audio = [rng.uniform(-0.5, 0.5, n * 320 - 7).astype(np.float32) for n in (10, 4)]
    kept = [Example(e.mel, e.weights, e.phones, e.meta, a) for e, a in zip(examples, audio)]
    write_shard(shard_path(tmp_path, 0), kept)
    back = read_shard(shard_path(tmp_path, 0), with_audio=True)
    for a, b in zip(audio, back):
        assert b.audio is not None and len(b.audio) == len(a) and np.abs(a - b.audio).max() < 1e-4  # int16
    assert all(e.audio is None for e in read_shard(shard_path(tmp_path, 0)))  # only when asked
    write_shard(shard_path(tmp_path, 1), examples)
    with pytest.raises(ValueError, match="kept no audio"):
        read_shard(shard_path(tmp_path, 1), with_audio=True)


def test_example_lengths_must_agree():
    with pytest.raises(ValueError, match="lengths"):
        Example(np.zeros((9, 80), np.float32), np.zeros((5, 52), np.float32), np.zeros(5, int), {})


def test_empty_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no corpus shards"):
        read_corpus(tmp_path)


@pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("festival") is None,
                    reason="espeak-ng and festival are needed for a real shard")
def test_a_real_shard_has_speech_where_its_phones_say():
    from talkinghead.audio2motion.training.teacher import TeacherConfig, make_shard

    examples = make_shard(0, TeacherConfig(utterances_per_shard=3, p_clean=1.0))
    again = make_shard(0, TeacherConfig(utterances_per_shard=3, p_clean=1.0))
    assert [e.meta["text"] for e in examples] == [e.meta["text"] for e in again]
    silence = PHONE_INDEX["SIL"]
    for example in examples:
        assert len(example.mel) == 2 * len(example.weights)
        assert 0.0 <= example.weights.min() and example.weights.max() <= 1.0
        loudness = example.mel.reshape(len(example.weights), 2, -1).mean((1, 2))
        speaking = example.phones != silence
        assert speaking.any() and (~speaking).any()
        # the engine's timings put speech where the energy is
        assert np.median(loudness[speaking]) > np.median(loudness[~speaking]) + 3.0
        jaw = example.weights[:, ARKIT_INDEX["jawOpen"]]
        assert jaw[speaking].mean() > 3 * jaw[~speaking].mean()


def _small_corpus(directory, seed: int):
    """One shard of 40 synthetic utterances."""
    rng = np.random.default_rng(seed)
    directory.mkdir()
    write_shard(shard_path(directory, 0), [synthetic_example(rng, int(n)) for n in rng.integers(30, 60, 40)])
    return directory


def test_training_writes_loadable_weights_and_resumes(tmp_path):
    corpus = _small_corpus(tmp_path / "corpus", 1)
    config = TrainConfig(steps=3, batch=2, crop_steps=20, warmup=1, checkpoint_every=3, validate_every=3)
    train(corpus, tmp_path / "run", config, SMALL, progress=False)
    model = load_model(tmp_path / "run" / "a2m.pt")
    assert model.config == SMALL
    assert float(model.feature_scale.min()) > 0
    resumed = TrainConfig(**{**config.__dict__, "steps": 5})
    train(corpus, tmp_path / "run", resumed, SMALL, progress=False)
    log = (tmp_path / "run" / "train.log").read_text()
    assert "resumed at step 3" in log and "step 5 " in log and "aperture=" in log


def test_training_can_start_from_trained_weights(tmp_path):
    corpus = _small_corpus(tmp_path / "corpus", 5)
    config = TrainConfig(steps=2, batch=2, crop_steps=20, warmup=1, checkpoint_every=2, validate_every=2)
    first = train(corpus, tmp_path / "first", config, SMALL, progress=False)
    first.feature_scale.mul_(3.0)  # an input scale the second run could not have computed itself
    save_model(first, tmp_path / "first" / "scaled.pt")
    started = train(corpus, tmp_path / "second", TrainConfig(**{**config.__dict__, "lr": 0.0}), SMALL,
                    progress=False, start_from=tmp_path / "first" / "scaled.pt")
    for name, value in load_model(tmp_path / "first" / "scaled.pt").state_dict().items():
        assert torch.allclose(started.state_dict()[name], value, atol=1e-2), name
    assert "starting from the weights of" in (tmp_path / "second" / "train.log").read_text()
    other = dataclasses.replace(SMALL, dim=SMALL.dim * 2)
    with pytest.raises(ValueError, match="another shape"):
        train(corpus, tmp_path / "third", config, other, progress=False, start_from=tmp_path / "first" / "scaled.pt")


def test_held_out_split_is_disjoint_and_stable():
    rng = np.random.default_rng(2)
    examples = [synthetic_example(rng, 4) for _ in range(60)]
    heard = Heard(examples, [e.mel for e in examples], ModelConfig())
    train_set, held = heard.split()
    assert len(held.examples) == 3 and len(train_set.examples) == 57
    assert not {id(e) for e in held.examples} & {id(e) for e in train_set.examples}
    assert [id(e) for e in heard.split()[1].examples] == [id(e) for e in held.examples]
    assert [id(x) for x in held.inputs] == [id(e.mel) for e in held.examples]


def test_lip_gap_direction_matches_the_mesh():
    """The aperture loss's dot product equals the reference face's signed lip gap change."""
    from talkinghead.audio2motion.training.train import lip_gap_direction
    from talkinghead.evaluation.baselines import mouth_signals

    weights = np.random.default_rng(3).uniform(0, 0.6, (6, 52))
    change = mouth_signals(weights)["aperture"] - mouth_signals(np.zeros((1, 52)))["aperture"]
    assert np.abs(change - weights @ lip_gap_direction().numpy()).max() < 1e-5
    assert lip_gap_direction()[ARKIT_INDEX["jawOpen"]] > 0 > lip_gap_direction()[ARKIT_INDEX["mouthClose"]]


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite is needed for a flite shard")
def test_a_flite_share_of_one_speaks_only_flite_voices():
    from talkinghead.audio2motion.training.teacher import TeacherConfig, make_shard

    config = TeacherConfig(utterances_per_shard=2, p_clean=1.0, espeak_share=0.0, flite_share=1.0)
    examples = make_shard(0, config)
    assert {e.meta["engine"] for e in examples} == {"flite"}
    assert {e.meta["voice"] for e in examples} <= set(config.flite_voices)


@pytest.mark.parametrize("espeak, flite", [(-0.1, 0.0), (0.7, 0.4), (0.0, 1.5)])
def test_engine_shares_must_be_a_distribution(espeak, flite):
    from talkinghead.audio2motion.training.teacher import TeacherConfig

    with pytest.raises(ValueError, match="shares"):
        TeacherConfig(espeak_share=espeak, flite_share=flite)


def _batch_with_error_on(phone: str, steps: int = 12):
    """A batch whose targets differ from a fresh model's output only on ``phone``'s steps."""
    import torch

    from talkinghead.audio2motion.model import Audio2Motion

    torch.manual_seed(0)
    model = Audio2Motion(SMALL).eval()
    mel = torch.randn(2, 2 * steps, 80)
    with torch.no_grad():
        out, _ = model(mel)
    phones = torch.full((2, steps), PHONE_INDEX["AA"])
    phones[:, 4:8] = PHONE_INDEX[phone]
    # head 0's own output is the target except on the chosen phone's steps (the other heads err everywhere)
    target = out[:, :, 0, :52].clone()
    target[:, 4:8] = 1.0 - target[:, 4:8]
    return model, (mel, target, phones, torch.ones(2, steps))


@pytest.mark.parametrize("field, phone, grows", [
    ("closure_weight", "M", True), ("closure_weight", "S", False), ("closure_weight", "UW", False),
    ("lip_shape_weight", "UW", True), ("lip_shape_weight", "IY", True), ("lip_shape_weight", "M", False),
])
def test_articulation_weights_weigh_only_their_phones_errors(field, phone, grows):
    from talkinghead.audio2motion.training.train import batch_loss

    model, batch = _batch_with_error_on(phone)
    off = {"closure_weight": 0.0, "lip_shape_weight": 0.0}
    plain = batch_loss(model, batch, TrainConfig(**off))[1]["weights"]
    weighted = batch_loss(model, batch, TrainConfig(**{**off, field: 10.0}))[1]["weights"]
    if grows:
        assert weighted > 2 * plain
    else:  # no step of the weighted phones in the batch: nothing changes
        assert weighted == pytest.approx(plain, rel=1e-6)


@pytest.mark.parametrize("field", ["closure_weight", "lip_shape_weight"])
def test_negative_articulation_weights_are_refused(field):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: -1.0})
