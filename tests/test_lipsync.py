"""Tests of the frozen lip-sync yardstick and the real-data label loader."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from talkinghead.evaluation import lipsync as ls
from talkinghead.evaluation.labels import (
    REPORT_CLIPS,
    TUNING_CLIPS,
    available_clips,
    load_clip_labels,
    load_phoneme_index,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SYMBOLS = ("AA", "AE", "AH", "AY", "P", "B", "M", "UW", "OW", "W", "IY", "IH", "EH", "S", "T", "SIL")


def random_labels(n_events: int, seed: int = 0) -> np.ndarray:
    """Runs of 1..6 frames of random symbols, adjacent runs always different."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    prev = ""
    for _ in range(n_events):
        sym = prev
        while sym == prev:
            sym = SYMBOLS[rng.integers(len(SYMBOLS))]
        out += [sym] * int(rng.integers(1, 7))
        prev = sym
    return np.asarray(out)


def aperture_truth(labels: np.ndarray) -> np.ndarray:
    """1 on open vowels, 0 on bilabials, 0.5 elsewhere: a perfect aperture signal."""
    pos = np.isin(labels, list(ls.APERTURE.positive))
    neg = np.isin(labels, list(ls.APERTURE.negative))
    return np.where(pos, 1.0, np.where(neg, 0.0, 0.5))


def brute_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


# ---------------------------------------------------------------- AUC core


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_brute_force_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pos = rng.integers(0, 6, size=int(rng.integers(1, 80))).astype(float)
    neg = rng.integers(0, 5, size=int(rng.integers(1, 80))).astype(float)
    assert ls.auc_score(pos, neg) == pytest.approx(brute_auc(pos, neg), abs=1e-12)


def test_auc_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="both classes"):
        ls.auc_score(np.array([1.0]), np.array([]))


def test_perfect_inverted_constant_signals() -> None:
    labels = random_labels(120)
    truth = aperture_truth(labels)
    assert ls.aperture_auc(truth, labels, 30, n_boot=0).auc == 1.0
    assert ls.aperture_auc(-truth, labels, 30, n_boot=0).auc == 0.0
    assert ls.aperture_auc(np.ones(labels.size), labels, 30, n_boot=0).auc == 0.5


def test_rounding_uses_its_own_classes() -> None:
    labels = random_labels(150, seed=3)
    rounded = np.isin(labels, list(ls.ROUNDING.positive)).astype(float)
    r = ls.rounding_auc(rounded, labels, 30, n_boot=0)
    assert r.auc == 1.0
    assert r.n_pos_frames == int(np.isin(labels, list(ls.ROUNDING.positive)).sum())
    # AE is open (aperture positive) and spread (rounding negative).
    assert "AE" in ls.APERTURE.positive and "AE" in ls.ROUNDING.negative


def test_event_counts_are_runs() -> None:
    labels = np.array(["AA"] * 3 + ["AE"] * 2 + ["P"] * 2 + ["AA"] + ["SIL"] + ["M"] * 4)
    r = ls.aperture_auc(aperture_truth(labels), labels, 30, n_boot=0)
    assert (r.n_pos_frames, r.n_neg_frames, r.n_pos_events, r.n_neg_events) == (6, 6, 3, 2)


# ---------------------------------------------------------------- sampling and lag


@pytest.mark.parametrize("shift", [3, -2])
def test_lag_sign_signal_late_is_positive(shift: int) -> None:
    labels = random_labels(150, seed=1)
    truth = aperture_truth(labels)
    late = np.roll(truth, shift)  # events appear `shift` frames after the labels
    search = ls.best_lag(late, labels, 30, "aperture", n_boot=0)
    assert search.best_lag == shift
    assert search.best.auc == 1.0 and search.best.lag == shift
    assert sorted(search.curve) == list(range(-8, 9))
    assert search.curve[0] < 1.0


def test_lag_window_is_a_parameter() -> None:
    labels = random_labels(150, seed=1)
    late = np.roll(aperture_truth(labels), 3)
    search = ls.best_lag(late, labels, 30, "aperture", lags=range(-2, 3), n_boot=0)
    assert sorted(search.curve) == [-2, -1, 0, 1, 2]
    assert search.best_lag != 3


@pytest.mark.parametrize("fps", [25, 60, Fraction(30000, 1001)])
@pytest.mark.parametrize("lag", [0, 2, -3])
def test_midpoint_sampling_of_a_time_ramp(fps: int | Fraction, lag: int) -> None:
    """A signal equal to its frame-midpoint times reads back the label midpoint times."""
    n_labels = 90
    n_sig = round(n_labels * Fraction(fps) / 30)
    ramp = (np.arange(n_sig) + 0.5) / float(fps)
    values, j = ls.sample_at_label_frames(ramp, fps, n_labels, lag)
    want = (j + 0.5 + lag) / 30.0
    first, last = 0.5 / float(fps), (n_sig - 0.5) / float(fps)
    interior = (want >= first) & (want <= last)
    np.testing.assert_allclose(values[interior], want[interior], atol=1e-12)
    np.testing.assert_allclose(values[~interior], np.clip(want[~interior], first, last))
    assert j[0] == max(0, -lag) and j[-1] == n_labels - 1 - max(0, lag)


def test_identity_at_30fps() -> None:
    sig = np.random.default_rng(0).normal(size=50)
    values, j = ls.sample_at_label_frames(sig, 30, 50, 0)
    assert np.array_equal(values, sig) and np.array_equal(j, np.arange(50))
    values, j = ls.sample_at_label_frames(sig, 30, 50, 4)
    assert np.array_equal(values, sig[4:]) and np.array_equal(j, np.arange(46))


def test_upsampled_signal_at_60fps_has_lag_zero() -> None:
    labels = random_labels(150, seed=2)
    sig60 = np.repeat(aperture_truth(labels), 2)
    search = ls.best_lag(sig60, labels, 60, "aperture", n_boot=0)
    assert search.best_lag == 0 and search.best.auc == 1.0


def test_signal_at_25fps_has_lag_zero() -> None:
    labels = random_labels(150, seed=4)
    n25 = labels.size * 25 // 30
    # Each 25 fps frame takes the label under its midpoint time.
    under = np.floor((np.arange(n25) + 0.5) / 25 * 30).astype(int)
    sig25 = aperture_truth(labels)[under]
    search = ls.best_lag(sig25, labels, 25, "aperture", n_boot=0)
    assert search.best_lag == 0 and search.best.auc > 0.95


@pytest.mark.parametrize("delta", [-2, -1, 1, 2])
def test_small_length_mismatch_is_truncated(delta: int) -> None:
    labels = random_labels(100, seed=5)
    truth = aperture_truth(labels)
    sig = truth[: labels.size + delta] if delta < 0 else np.concatenate([truth, np.zeros(delta)])
    r = ls.aperture_auc(sig, labels, 30, n_boot=0)
    assert r.auc == 1.0
    full = ls.aperture_auc(truth, labels, 30, n_boot=0)
    dropped = max(0, -delta)
    assert r.n_pos_frames + r.n_neg_frames >= full.n_pos_frames + full.n_neg_frames - dropped


@pytest.mark.parametrize("delta", [-5, 5])
def test_large_length_mismatch_raises(delta: int) -> None:
    labels = random_labels(100, seed=5)
    sig = np.zeros(labels.size + delta)
    with pytest.raises(ValueError, match=f"{labels.size} label frames.*{sig.size} frames"):
        ls.aperture_auc(sig, labels, 30)
    with pytest.raises(ValueError, match="length mismatch"):
        ls.aperture_auc(np.zeros(2 * (labels.size + delta)), labels, 60)


def test_bad_inputs_raise() -> None:
    labels = random_labels(30)
    sig = aperture_truth(labels)
    with pytest.raises(ValueError, match="ARPAbet strings"):
        ls.aperture_auc(sig, np.arange(labels.size), 30)
    with pytest.raises(ValueError, match="unknown task"):
        ls.auc_at_lag(sig, labels, 30, "smile")
    with pytest.raises(ValueError, match="NaN"):
        ls.aperture_auc(np.full(labels.size, np.nan), labels, 30)
    with pytest.raises(ValueError, match="lag"):
        ls.aperture_auc(sig, labels, 30, lag=0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fps"):
        ls.aperture_auc(sig, labels, 0)


# ---------------------------------------------------------------- bootstrap


def noisy_clip(n_events: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    labels = random_labels(n_events, seed)
    rng = np.random.default_rng(seed + 100)
    return aperture_truth(labels) + rng.normal(0.0, 0.6, labels.size), labels


def test_bootstrap_ci_contains_estimate_and_narrows() -> None:
    small = ls.aperture_auc(*noisy_clip(60, 7), 30)
    large = ls.aperture_auc(*noisy_clip(1200, 7), 30)
    for r in (small, large):
        assert r.ci_low <= r.auc <= r.ci_high
        assert 0.5 < r.auc < 1.0
    assert (large.ci_high - large.ci_low) < 0.6 * (small.ci_high - small.ci_low)
    assert large.n_neg_events > 5 * small.n_neg_events


def test_bootstrap_is_seeded_and_resamples_events() -> None:
    sig, labels = noisy_clip(200, 8)
    a = ls.aperture_auc(sig, labels, 30, seed=1)
    assert a == ls.aperture_auc(sig, labels, 30, seed=1)
    assert a != ls.aperture_auc(sig, labels, 30, seed=2)
    # Stretching every event 4x adds frames but no events: the CI must not shrink by ~2x,
    # as a frame-level bootstrap would make it.
    long = ls.aperture_auc(np.repeat(sig, 4), np.repeat(labels, 4), 30, seed=1)
    assert long.n_pos_events == a.n_pos_events
    assert (long.ci_high - long.ci_low) > 0.75 * (a.ci_high - a.ci_low)
    assert np.isnan(ls.aperture_auc(sig, labels, 30, n_boot=0).ci_low)


# ---------------------------------------------------------------- pooling


def test_pooled_is_one_auc_over_all_frames() -> None:
    (s1, l1), (s2, l2) = noisy_clip(80, 11), noisy_clip(80, 12)
    s2 = s2 + 0.7  # a per-clip offset: pooled AUC differs from the mean of AUCs
    res = ls.pooled_auc([(s1, l1, 30), (s2, l2, 30)], "aperture")
    a1 = ls.aperture_auc(s1, l1, 30, n_boot=0).auc
    a2 = ls.aperture_auc(s2, l2, 30, n_boot=0).auc
    both = ((s1, l1), (s2, l2))
    pos = np.concatenate([s[np.isin(lab, list(ls.APERTURE.positive))] for s, lab in both])
    neg = np.concatenate([s[np.isin(lab, list(ls.APERTURE.negative))] for s, lab in both])
    assert res.pooled.auc == pytest.approx(brute_auc(pos, neg))
    assert res.mean_auc == pytest.approx((a1 + a2) / 2)
    assert abs(res.pooled.auc - res.mean_auc) > 0.01
    assert res.pooled.n_neg_events == res.per_clip[0].n_neg_events + res.per_clip[1].n_neg_events
    assert res.pooled.ci_low <= res.pooled.auc <= res.pooled.ci_high


def test_pooled_best_lag_common_and_per_clip() -> None:
    clips = []
    for seed, shift in ((21, 2), (22, 2), (23, -1)):
        labels = random_labels(120, seed)
        clips.append((np.roll(aperture_truth(labels), shift), labels, 30))
    search = ls.pooled_best_lag(clips, "aperture", n_boot=0)
    assert search.best_lag == 2
    assert [c.best_lag for c in search.per_clip] == [2, 2, -1]
    assert search.curve[2] == max(search.curve.values())
    assert search.best.pooled.lag == 2


# ---------------------------------------------------------------- pearson


def test_pearson_lag_and_rates() -> None:
    rng = np.random.default_rng(9)
    ref = np.convolve(rng.normal(size=300), np.ones(5) / 5, mode="same")
    assert ls.pearson(ref, 30, ref, 30) == pytest.approx(1.0)
    late = np.roll(ref, 3)
    rs = {lag: ls.pearson(late, 30, ref, 30, lag) for lag in range(-5, 6)}
    assert max(rs, key=rs.get) == 3 and rs[3] == pytest.approx(1.0)
    # The same mouth at 60 fps (held frames) against the 30 fps reference.
    assert ls.pearson(np.repeat(ref, 2), 60, ref, 30) > 0.99
    assert np.isnan(ls.pearson(np.ones(300), 30, ref, 30))
    with pytest.raises(ValueError, match="length mismatch"):
        ls.pearson(ref[:290], 30, ref, 30)


# ---------------------------------------------------------------- real data


def test_clip_sets_are_disjoint() -> None:
    assert not set(TUNING_CLIPS) & set(REPORT_CLIPS)
    assert len(TUNING_CLIPS) == 3 and len(REPORT_CLIPS) == 5
    assert available_clips(DATA.parent / "no_such_folder") == []


def test_real_labels_load_and_match_video_length() -> None:
    if not (DATA / "talking" / "phoneme_index.json").is_file():
        pytest.skip(f"real data not found at {DATA}")
    av = pytest.importorskip("av")
    index = load_phoneme_index(DATA / "talking" / "phoneme_index.json")
    assert len(index) == 41 and {"SIL", "NSN", "P", "AA"} <= set(index)
    clips = available_clips(DATA)
    assert [c.name for c in clips] == list(TUNING_CLIPS + REPORT_CLIPS)
    for clip in clips:
        assert clip.labels.dtype.kind == "U" and set(clip.labels) <= set(index)
        if clip.video is None:
            continue
        assert np.array_equal(
            clip.labels, load_clip_labels(clip.video.parent / "phonemes_30fps.json", index))
        with av.open(str(clip.video)) as container:
            n_video = container.streams.video[0].frames
        assert abs(clip.labels.size - n_video) <= 2, clip.name
    intro = clips[-1]
    assert intro.name == "speech/intro_en" and intro.labels[-1] == "SIL"
