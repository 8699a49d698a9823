"""The lip-sync yardstick: how well a mouth signal follows per-frame phoneme labels.

FROZEN. Every published lip-sync number of this project comes from this module;
changing any convention below invalidates all of them. Add new code elsewhere.

Protocol:
- Labels: one ARPAbet symbol per label frame at ``LABEL_FPS`` = 30 fps.
- A signal is a 1-D array at its own rate ``fps``; its frame ``k`` is sampled at
  time ``(k + 1/2) / fps``. It is read at each label frame's midpoint
  ``(j + 1/2) / 30``, linearly interpolated between the two nearest signal
  midpoints (the edge value is held in the first and last half frame). At
  ``fps = 30`` and lag 0 this is the identity.
- Lag, in label frames: **positive lag = the signal is late** (its events come
  ``lag`` frames after the labels'); at lag ``L`` label frame ``j`` is compared
  with the signal at ``(j + L + 1/2) / 30`` (signal frame ``j + L`` at 30 fps).
  Label frames whose shifted time falls outside the signal are dropped.
- Lengths: the signal's duration in label frames may differ from the number of
  labels by at most ``MAX_LENGTH_MISMATCH`` (2) frames (the longer is truncated);
  a bigger mismatch is a ValueError.
- Tasks (higher signal = positive class): aperture = open vowels vs P/B/M,
  rounding = rounded vs spread vowels (``TASKS``).
- Score: ROC AUC (Mann-Whitney, ties count 1/2). Pooled = one AUC over the frames
  of all clips (plus the mean of the per-clip AUCs).
- 95% CI: percentile bootstrap (default 1000 resamples, seed 0) that resamples
  whole phoneme events (maximal runs of one label) with replacement within each
  class, across all clips when pooled.
- Best lag: the lag in a window (default -8..+8) with the highest AUC; ties go
  to the smallest ``|lag|``, then to the lower lag.
- Pearson r between two signals uses the same sampling, lag and length rules,
  with the second signal in the role of the labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType

import numpy as np

LABEL_FPS = Fraction(30)
MAX_LENGTH_MISMATCH = 2  # label frames
DEFAULT_LAGS: tuple[int, ...] = tuple(range(-8, 9))
DEFAULT_N_BOOT = 1000
DEFAULT_SEED = 0
CI_LEVEL = 0.95


@dataclass(frozen=True)
class ClassPair:
    """Phoneme classes a signal must separate: higher values mean ``positive``."""

    positive: frozenset[str]
    negative: frozenset[str]


APERTURE = ClassPair(
    positive=frozenset({"AA", "AE", "AH", "AO", "AW", "AY"}),
    negative=frozenset({"P", "B", "M"}),
)
# AE is both open (aperture) and spread (rounding): each task uses its own pair.
ROUNDING = ClassPair(
    positive=frozenset({"UW", "OW", "W", "UH", "OY"}),
    negative=frozenset({"IY", "IH", "EY", "EH", "AE"}),
)
TASKS: Mapping[str, ClassPair] = MappingProxyType({"aperture": APERTURE, "rounding": ROUNDING})

Fps = Fraction | int | float
Clip = tuple[np.ndarray, Sequence[str], Fps]  # (signal, labels, signal fps)


@dataclass(frozen=True)
class AUCResult:
    """AUC of one task at one lag, with its event-bootstrap CI (NaN when ``n_boot=0``)."""

    auc: float
    ci_low: float
    ci_high: float
    n_pos_frames: int
    n_neg_frames: int
    n_pos_events: int
    n_neg_events: int
    lag: int


@dataclass(frozen=True)
class LagSearch:
    """Best lag in the window, its full result, and the AUC at every lag searched."""

    best_lag: int
    best: AUCResult
    curve: dict[int, float]


@dataclass(frozen=True)
class PooledResult:
    """One AUC over the frames of all clips, the per-clip results and their mean AUC."""

    pooled: AUCResult
    per_clip: tuple[AUCResult, ...]
    mean_auc: float


@dataclass(frozen=True)
class PooledLagSearch:
    """Best common lag for all clips (by pooled AUC) and each clip's own lag search."""

    best_lag: int
    best: PooledResult
    curve: dict[int, float]
    per_clip: tuple[LagSearch, ...]


# ---------------------------------------------------------------- sampling


def _as_fps(fps: Fps) -> Fraction:
    """Exact rate; floats (e.g. 29.97) are rounded to the nearest simple fraction."""
    if isinstance(fps, (float, np.floating)):
        f = Fraction(float(fps)).limit_denominator(1_000_000)
    elif isinstance(fps, (Fraction, int, np.integer)) and not isinstance(fps, bool):
        f = Fraction(int(fps)) if isinstance(fps, np.integer) else Fraction(fps)
    else:
        raise ValueError(f"fps must be a number, got {fps!r}")  # noqa: TRY004 (project rule)
    if f <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return f


def _as_lag(lag: int) -> int:
    if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)):
        msg = f"lag must be an integer number of label frames, got {lag!r}"
        raise ValueError(msg)  # noqa: TRY004 (project rule: bad input is a ValueError)
    return int(lag)


def _as_signal(signal: np.ndarray) -> np.ndarray:
    s = np.asarray(signal, dtype=np.float64)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"signal must be a non-empty 1-D array, got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("signal contains NaN or infinite values")
    return s


def _as_labels(labels: Sequence[str]) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "UO":
        raise ValueError(
            "labels must be a non-empty 1-D sequence of ARPAbet strings "
            "(convert ids with talkinghead.evaluation.labels.load_clip_labels)"
        )
    return arr.astype(str)


def _check_lengths(n_ref: int, n_signal: int, fps: Fraction) -> None:
    duration = n_signal * LABEL_FPS / fps  # signal duration in label frames
    if abs(n_ref - duration) > MAX_LENGTH_MISMATCH:
        raise ValueError(
            f"length mismatch: {n_ref} label frames vs a signal of {n_signal} frames at "
            f"{fps} fps = {float(duration):.2f} label frames (tolerance {MAX_LENGTH_MISMATCH})"
        )


def sample_at_label_frames(
    signal: np.ndarray, fps: Fps, n_frames: int, lag: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Read ``signal`` at the midpoints of label frames ``0..n_frames-1`` shifted by ``lag``.

    Returns ``(values, frame_indices)``: only label frames whose shifted time lies
    within the signal's duration are kept. Checks the length rule.
    """
    s = _as_signal(signal)
    f = _as_fps(fps)
    lag = _as_lag(lag)
    _check_lengths(n_frames, s.size, f)
    j = np.arange(n_frames, dtype=np.int64)
    # Shifted time (2j + 1 + 2L) / 60 s must lie in [0, N / F): exact integer test.
    t2 = 2 * j + 1 + 2 * lag
    keep = (t2 >= 0) & (t2 * f.numerator < 2 * LABEL_FPS.numerator * s.size * f.denominator)
    j, t2 = j[keep], t2[keep]
    # Position in signal frames: t * F - 1/2, with t = t2 / 60.
    x = t2 * float(f / (2 * LABEL_FPS)) - 0.5
    x = np.clip(x, 0.0, s.size - 1)
    i0 = np.floor(x).astype(np.int64)
    i1 = np.minimum(i0 + 1, s.size - 1)
    w = x - i0
    return (1.0 - w) * s[i0] + w * s[i1], j


# ---------------------------------------------------------------- AUC core


def auc_score(pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann-Whitney AUC: P(pos > neg) + P(pos == neg) / 2, in O(n log n)."""
    pos = np.asarray(pos, dtype=np.float64).ravel()
    neg = np.asarray(neg, dtype=np.float64).ravel()
    if pos.size == 0 or neg.size == 0:
        raise ValueError(f"AUC needs both classes: {pos.size} positive, {neg.size} negative")
    neg_sorted = np.sort(neg)
    below = np.searchsorted(neg_sorted, pos, side="left")
    not_above = np.searchsorted(neg_sorted, pos, side="right")
    # Integer count of wins*2 keeps the result exact for ties.
    wins2 = int(np.sum(below + not_above, dtype=np.int64))
    return wins2 / (2.0 * pos.size * neg.size)


def _event_ids(labels: np.ndarray) -> np.ndarray:
    """Number maximal runs of equal labels: frame -> event index."""
    starts = np.ones(labels.size, dtype=bool)
    starts[1:] = labels[1:] != labels[:-1]
    return np.cumsum(starts) - 1


@dataclass(frozen=True)
class _Frames:
    """Class frames of one task after alignment; event ids are unique across clips."""

    pos: np.ndarray
    neg: np.ndarray
    pos_event: np.ndarray
    neg_event: np.ndarray


def _task(task: str) -> ClassPair:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(TASKS)}")
    return TASKS[task]


def _class_frames(signal: np.ndarray, labels: Sequence[str], fps: Fps, pair: ClassPair,
                  lag: int, event_offset: int = 0) -> _Frames:
    lab = _as_labels(labels)
    values, j = sample_at_label_frames(signal, fps, lab.size, lag)
    kept = lab[j]
    events = _event_ids(lab)[j] + event_offset
    is_pos = np.isin(kept, list(pair.positive))
    is_neg = np.isin(kept, list(pair.negative))
    return _Frames(values[is_pos], values[is_neg], events[is_pos], events[is_neg])


def _concat(frames: Sequence[_Frames]) -> _Frames:
    return _Frames(*(np.concatenate([getattr(f, k) for f in frames])
                     for k in ("pos", "neg", "pos_event", "neg_event")))


def _bootstrap_ci(fr: _Frames, n_boot: int, seed: int) -> tuple[float, float]:
    """Percentile CI from resampling whole events within each class.

    Uses an event-pair win matrix ``W[p, q]`` (twice the wins of positive event p
    over negative event q), so a resample with event multiplicities ``a``, ``b``
    has AUC ``a W b / (2 (a.len_p) (b.len_q))``.
    """
    if n_boot == 0:
        return float("nan"), float("nan")
    p_ids, p_inv = np.unique(fr.pos_event, return_inverse=True)
    q_ids, q_inv = np.unique(fr.neg_event, return_inverse=True)
    n_p, n_q = p_ids.size, q_ids.size
    order = np.argsort(p_inv, kind="stable")
    pos_sorted, p_bounds = fr.pos[order], np.searchsorted(p_inv[order], np.arange(n_p))
    win = np.empty((n_p, n_q))
    for q in range(n_q):
        neg_q = np.sort(fr.neg[q_inv == q])
        w2 = (np.searchsorted(neg_q, pos_sorted, side="left")
              + np.searchsorted(neg_q, pos_sorted, side="right"))
        win[:, q] = np.add.reduceat(w2, p_bounds)
    len_p = np.bincount(p_inv, minlength=n_p).astype(np.float64)
    len_q = np.bincount(q_inv, minlength=n_q).astype(np.float64)
    rng = np.random.default_rng(seed)
    a = _multiplicities(rng, n_boot, n_p)
    b = _multiplicities(rng, n_boot, n_q)
    aucs = ((a @ win) * b).sum(axis=1) / (2.0 * (a @ len_p) * (b @ len_q))
    alpha = (1.0 - CI_LEVEL) / 2.0
    low, high = np.quantile(aucs, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _multiplicities(rng: np.random.Generator, n_boot: int, n: int) -> np.ndarray:
    """How often each of ``n`` events is drawn in each of ``n_boot`` resamples."""
    draws = rng.integers(0, n, size=(n_boot, n)) + n * np.arange(n_boot)[:, None]
    return np.bincount(draws.ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)


def _result(fr: _Frames, lag: int, n_boot: int, seed: int) -> AUCResult:
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    auc = auc_score(fr.pos, fr.neg)
    low, high = _bootstrap_ci(fr, n_boot, seed)
    return AUCResult(
        auc=auc, ci_low=low, ci_high=high,
        n_pos_frames=int(fr.pos.size), n_neg_frames=int(fr.neg.size),
        n_pos_events=int(np.unique(fr.pos_event).size),
        n_neg_events=int(np.unique(fr.neg_event).size), lag=lag,
    )


# ---------------------------------------------------------------- public scores


def auc_at_lag(signal: np.ndarray, labels: Sequence[str], fps: Fps, task: str, lag: int = 0,
               n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED) -> AUCResult:
    """AUC of ``signal`` for ``task`` ("aperture" or "rounding") at one lag, one clip."""
    lag = _as_lag(lag)
    return _result(_class_frames(signal, labels, fps, _task(task), lag), lag, n_boot, seed)


def aperture_auc(signal: np.ndarray, labels: Sequence[str], fps: Fps, lag: int = 0,
                 n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED) -> AUCResult:
    """Lip aperture: open vowels (positive) vs P/B/M closures (negative)."""
    return auc_at_lag(signal, labels, fps, "aperture", lag, n_boot, seed)


def rounding_auc(signal: np.ndarray, labels: Sequence[str], fps: Fps, lag: int = 0,
                 n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED) -> AUCResult:
    """Lip rounding: rounded vowels (positive) vs spread vowels (negative)."""
    return auc_at_lag(signal, labels, fps, "rounding", lag, n_boot, seed)


def _pick_lag(curve: dict[int, float]) -> int:
    if not curve:
        raise ValueError("the lag window is empty")
    return max(curve, key=lambda lag: (curve[lag], -abs(lag), -lag))


def _lags(lags: Sequence[int]) -> list[int]:
    out = [_as_lag(lag) for lag in lags]
    if not out:
        raise ValueError("the lag window is empty")
    return out


def best_lag(signal: np.ndarray, labels: Sequence[str], fps: Fps, task: str,
             lags: Sequence[int] = DEFAULT_LAGS, n_boot: int = DEFAULT_N_BOOT,
             seed: int = DEFAULT_SEED) -> LagSearch:
    """AUC at every lag in ``lags``; the CI is computed at the best lag only."""
    pair = _task(task)
    curve = {}
    for lag in _lags(lags):
        fr = _class_frames(signal, labels, fps, pair, lag)
        curve[lag] = auc_score(fr.pos, fr.neg)
    lag = _pick_lag(curve)
    return LagSearch(lag, auc_at_lag(signal, labels, fps, task, lag, n_boot, seed), curve)


def _pooled_frames(clips: Sequence[Clip], pair: ClassPair, lag: int) -> list[_Frames]:
    if len(clips) == 0:
        raise ValueError("no clips to pool")
    frames, offset = [], 0
    for signal, labels, fps in clips:
        frames.append(_class_frames(signal, labels, fps, pair, lag, offset))
        offset += len(labels)  # event ids never exceed a clip's frame count
    return frames


def pooled_auc(clips: Sequence[Clip], task: str, lag: int = 0, n_boot: int = DEFAULT_N_BOOT,
               seed: int = DEFAULT_SEED) -> PooledResult:
    """One AUC over all frames of all ``(signal, labels, fps)`` clips at a common lag.

    The pooled CI resamples events across all clips; per-clip results use the
    same seed each. Every clip must contain both classes.
    """
    lag = _as_lag(lag)
    frames = _pooled_frames(clips, _task(task), lag)
    per_clip = tuple(_result(fr, lag, n_boot, seed) for fr in frames)
    return PooledResult(
        pooled=_result(_concat(frames), lag, n_boot, seed),
        per_clip=per_clip,
        mean_auc=float(np.mean([r.auc for r in per_clip])),
    )


def pooled_best_lag(clips: Sequence[Clip], task: str, lags: Sequence[int] = DEFAULT_LAGS,
                    n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED) -> PooledLagSearch:
    """Best common lag (maximising the pooled AUC) plus each clip's own best lag."""
    pair = _task(task)
    window = _lags(lags)
    curve = {}
    for lag in window:
        fr = _concat(_pooled_frames(clips, pair, lag))
        curve[lag] = auc_score(fr.pos, fr.neg)
    lag = _pick_lag(curve)
    per_clip = tuple(best_lag(s, lab, fps, task, window, n_boot, seed) for s, lab, fps in clips)
    return PooledLagSearch(lag, pooled_auc(clips, task, lag, n_boot, seed), curve, per_clip)


def pearson(a: np.ndarray, fps_a: Fps, b: np.ndarray, fps_b: Fps, lag: int = 0) -> float:
    """Pearson r between signal ``a`` and reference ``b`` (e.g. predicted vs tracked mouth).

    ``b`` plays the role of the labels: both are read at 30 fps label-frame
    midpoints over ``b``'s duration, ``a`` shifted by ``lag`` (positive = ``a``
    late). Returns NaN when either side is constant over the compared frames.
    """
    ref = _as_signal(b)
    f_b = _as_fps(fps_b)
    # Label grid of b's duration, rounded up so no frame of b is lost.
    duration = ref.size * LABEL_FPS / f_b
    n = int(np.ceil(float(duration)))
    ref_values, j_ref = sample_at_label_frames(ref, f_b, n, 0)
    sig_values, j_sig = sample_at_label_frames(a, fps_a, n, lag)
    common, i_ref, i_sig = np.intersect1d(j_ref, j_sig, assume_unique=True, return_indices=True)
    x, y = sig_values[i_sig], ref_values[i_ref]
    if common.size < 2:
        raise ValueError("pearson: fewer than two overlapping frames")
    x, y = x - x.mean(), y - y.mean()
    denom = np.sqrt(np.dot(x, x) * np.dot(y, y))
    return float(np.dot(x, y) / denom) if denom > 0 else float("nan")
