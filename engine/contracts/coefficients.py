"""The per-frame face coefficients every stage exchanges, and their file formats.

``Coefficients`` is the contract between audio2motion, the motion layer, the
renderer and every transport: 52 ARKit blendshape weights plus a 6-value head
pose per video frame, stamped with the frame rate and the frame index of row 0
on the session's frame clock, so chunks can be sliced and re-joined without
ever re-timing a frame.

Files: ``.npz`` (exact) and ``.json`` (names -> arrays, for web clients) live
here; the Live Link Face CSV layout lives in ``talkinghead.contracts.livelink``.
``Coefficients.save`` / ``load`` pick the format by suffix.
"""

from __future__ import annotations

import builtins
import itertools
import json
import os
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from talkinghead.contracts.arkit import ARKIT_INDEX, ARKIT_NAMES, POSE_NAMES
from talkinghead.contracts.clock import RateLike, as_fraction, check_count

FpsLike = RateLike | np.integer | np.ndarray
PathLike = str | os.PathLike[str]

#: Blendshape weights this far outside [0, 1] (float rounding in upstream maths)
#: are clipped to the range; anything further out is a ValueError.
WEIGHT_TOLERANCE = 1e-6

JSON_FORMAT = "talkinghead.coefficients"
JSON_VERSION = 1

_SUFFIXES = (".npz", ".json", ".csv")


def parse_fps(value: FpsLike) -> Fraction:
    """``streaming.clock.as_fraction`` for frame rates, also taking numpy values.

    numpy integers and an integer ``[num, den]`` array are accepted because
    that is how ``.npz`` files and array maths hand rates over; everything else
    (forms, errors, the refusal of ``29.97``) is ``as_fraction``'s.
    """
    if isinstance(value, np.ndarray):
        if value.shape != (2,) or value.dtype.kind not in "iu":
            raise ValueError(
                f"fps array must be two integers [num, den], got shape {value.shape} "
                f"dtype {value.dtype}"
            )
        value = value.tolist()
    elif isinstance(value, (list, tuple)) and any(isinstance(v, np.generic) for v in value):
        value = [v.item() if isinstance(v, np.generic) else v for v in value]
    elif isinstance(value, np.generic):
        value = value.item()
    return as_fraction(value, "fps")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _as_float32_matrix(field: str, value: Any, names: Sequence[str]) -> np.ndarray:
    """A private float32 (T, len(names)) copy of ``value``, checked to be finite."""
    width = len(names)
    try:
        raw = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{field} must be a (T, {width}) array: {_one_line(exc)}") from None
    if raw.dtype.kind not in "biuf":
        raise ValueError(f"{field} must hold real numbers, got dtype {raw.dtype}")
    if raw.ndim != 2 or raw.shape[1] != width:
        raise ValueError(f"{field} must have shape (T, {width}), got {raw.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        arr = raw.astype(np.float32)
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(
            f"{field}[frame {i}, {names[j]}] is {float(raw[i, j]):g}; "
            "values must be finite and within float32 range"
        )
    return arr


def _suffix(path: PathLike) -> str:
    """The lower-cased file suffix, refused unless it is one ``save``/``load`` know."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise ValueError(
            f"unsupported coefficients file suffix {suffix!r}; expected .npz, .json or .csv"
        )
    return suffix


@dataclass(frozen=True, eq=False)
class Coefficients:
    """Face coefficients for ``T`` consecutive video frames.

    Fields (validated and normalised on construction; arrays are private
    read-only float32 copies, other dtypes are converted):

    - ``blendshapes``: float32 ``(T, 52)``, column ``i`` is ``ARKIT_NAMES[i]``,
      weights in [0, 1]. Weights within ``WEIGHT_TOLERANCE`` (1e-6) outside the
      range are clipped to it exactly; further out is a ``ValueError``.
    - ``pose``: float32 ``(T, 6)``: pitch, yaw, roll in radians, then tx, ty,
      tz in units of the face's inter-ocular distance (``POSE_NAMES``).
    - ``fps``: ``Fraction``; the constructor also takes an int, a
      ``"30000/1001"`` string or a ``[num, den]`` pair (see ``parse_fps``).
    - ``start_frame``: int >= 0, index of row 0 on the session's frame clock;
      row ``i`` is presented at ``(start_frame + i) / fps`` seconds.

    Pose convention. The camera frame is right-handed, camera at the origin
    looking down -z, +y up, +x to image right. The head's own frame at zero
    pose has the same axes, face looking toward +z (toward the camera),
    +x = toward image right = the subject's LEFT. Rotation
    ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)``, vertex in camera = ``R @ v + t``.
    Hence positive pitch = nose down, positive yaw = nose toward image right
    (the subject's left), positive roll = head tilts counter-clockwise in the
    image.

    ``source`` names what made them (e.g. ``audio2motion:whisper``, the
    ears audio2motion heard with): files keep it, slices and joins carry it.

    Equality (``==``) is exact: same arrays bit for bit, fps and start_frame
    (``source`` is provenance, not data, and does not count).
    """

    blendshapes: np.ndarray
    pose: np.ndarray
    fps: Fraction
    start_frame: int = 0
    source: str = ""

    def __post_init__(self) -> None:
        blendshapes = _as_float32_matrix("blendshapes", self.blendshapes, ARKIT_NAMES)
        pose = _as_float32_matrix("pose", self.pose, POSE_NAMES)
        if blendshapes.shape[0] != pose.shape[0]:
            raise ValueError(
                f"blendshapes has {blendshapes.shape[0]} frames but pose has {pose.shape[0]}"
            )
        outside = (blendshapes < -WEIGHT_TOLERANCE) | (blendshapes > 1.0 + WEIGHT_TOLERANCE)
        if outside.any():
            i, j = np.argwhere(outside)[0]
            raise ValueError(
                f"blendshapes[frame {i}, {ARKIT_NAMES[j]}] = {float(blendshapes[i, j]):g} "
                f"is outside [0, 1] (tolerance {WEIGHT_TOLERANCE:g})"
            )
        np.clip(blendshapes, 0.0, 1.0, out=blendshapes)
        blendshapes.setflags(write=False)
        pose.setflags(write=False)
        object.__setattr__(self, "blendshapes", blendshapes)
        object.__setattr__(self, "pose", pose)
        object.__setattr__(self, "fps", parse_fps(self.fps))
        object.__setattr__(self, "start_frame", check_count(self.start_frame, "start_frame"))
        if not isinstance(self.source, str):
            raise ValueError(f"source must be a string, got {type(self.source).__name__}")

    # ----------------------------------------------------------- construction
    @classmethod
    def empty(cls, fps: FpsLike, start_frame: int = 0) -> Coefficients:
        """No frames; a chunk that happens to be empty keeps its place on the clock."""
        return cls.zeros(0, fps, start_frame)

    @classmethod
    def zeros(cls, num_frames: int, fps: FpsLike, start_frame: int = 0) -> Coefficients:
        """``num_frames`` frames of neutral face (all weights 0) at zero pose."""
        n = check_count(num_frames, "num_frames")
        return cls(
            np.zeros((n, len(ARKIT_NAMES)), np.float32),
            np.zeros((n, len(POSE_NAMES)), np.float32),
            fps,
            start_frame,
        )

    @classmethod
    def concat(cls, chunks: Iterable[Coefficients]) -> Coefficients:
        """Join consecutive chunks into one.

        All chunks must share the fps, and each non-empty chunk must start
        where the previous non-empty one ended (empty chunks hold no frames and
        are not checked for position). Anything else is a ``ValueError``: a gap
        or an overlap means a frame was lost or doubled upstream.
        """
        chunks = list(chunks)
        if not chunks:
            raise ValueError("concat needs at least one chunk (the fps is unknown otherwise)")
        for i, chunk in enumerate(chunks):
            if not isinstance(chunk, Coefficients):
                raise ValueError(  # noqa: TRY004
                    f"concat: chunk {i} is a {type(chunk).__name__}, not Coefficients"
                )
            if chunk.fps != chunks[0].fps:
                raise ValueError(
                    f"concat: chunk {i} has fps {chunk.fps}, chunk 0 has fps {chunks[0].fps}"
                )
        filled = [c for c in chunks if len(c)]
        if not filled:
            return cls.empty(chunks[0].fps, chunks[0].start_frame)
        for prev, nxt in itertools.pairwise(filled):
            if nxt.start_frame != prev.end_frame:
                raise ValueError(
                    f"concat: chunks are not contiguous: one ends before frame {prev.end_frame}, "
                    f"the next starts at frame {nxt.start_frame}"
                )
        return cls(
            np.concatenate([c.blendshapes for c in filled]),
            np.concatenate([c.pose for c in filled]),
            filled[0].fps,
            filled[0].start_frame,
            filled[0].source,
        )

    # -------------------------------------------------------------- inspection
    def __len__(self) -> int:
        return int(self.blendshapes.shape[0])

    @property
    def num_frames(self) -> int:
        """Number of frames ``T``."""
        return len(self)

    @property
    def end_frame(self) -> int:
        """Clock index one past the last row (where the next chunk starts)."""
        return self.start_frame + len(self)

    def exact_times(self) -> list[Fraction]:
        """Presentation time of each row, ``(start_frame + i) / fps`` seconds, exactly."""
        return [Fraction(k) / self.fps for k in range(self.start_frame, self.end_frame)]

    def times(self) -> np.ndarray:
        """Presentation time of each row in float64 seconds (see ``exact_times``)."""
        frames = np.arange(self.start_frame, self.end_frame, dtype=np.float64)
        return frames * self.fps.denominator / self.fps.numerator

    def blendshape(self, name: str) -> np.ndarray:
        """The ``(T,)`` weights of one ARKit blendshape (a read-only view)."""
        if name not in ARKIT_INDEX:
            raise ValueError(f"unknown blendshape {name!r}; expected one of ARKIT_NAMES")
        return self.blendshapes[:, ARKIT_INDEX[name]]

    def slice(self, start: int | None = None, stop: int | None = None) -> Coefficients:
        """Rows ``start:stop`` (Python slice rules); ``start_frame`` moves with them."""
        first, last, _ = builtins.slice(start, stop).indices(len(self))
        last = max(first, last)
        return Coefficients(
            self.blendshapes[first:last],
            self.pose[first:last],
            self.fps,
            self.start_frame + first,
            self.source,
        )

    def __getitem__(self, key: builtins.slice) -> Coefficients:
        if not isinstance(key, builtins.slice):
            raise TypeError(
                f"Coefficients index must be a slice (use c[i:i+1] for one frame), "
                f"got {type(key).__name__}"
            )
        if key.step not in (None, 1):
            raise ValueError(f"Coefficients slices must have step 1, got {key.step}")
        return self.slice(key.start, key.stop)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Coefficients):
            return NotImplemented
        return (
            self.fps == other.fps
            and self.start_frame == other.start_frame
            and np.array_equal(self.blendshapes, other.blendshapes)
            and np.array_equal(self.pose, other.pose)
        )

    def __repr__(self) -> str:
        return (
            f"Coefficients(num_frames={len(self)}, fps={self.fps}, start_frame={self.start_frame})"
        )

    # -------------------------------------------------------------------- files
    def save(self, path: PathLike) -> None:
        """Write to ``.npz``, ``.json`` or ``.csv`` (Live Link Face layout) by suffix."""
        suffix = _suffix(path)
        if suffix == ".npz":
            save_npz(self, path)
        elif suffix == ".json":
            save_json(self, path)
        else:
            from talkinghead.contracts.livelink import (
                save_livelink_csv,  # livelink imports this module
            )

            save_livelink_csv(self, path)

    @classmethod
    def load(cls, path: PathLike, *, fps: FpsLike | None = None) -> Coefficients:
        """Read a file written by ``save`` (or a Live Link Face CSV), by suffix.

        ``fps`` applies to CSV only (see ``livelink.from_livelink_csv``); the
        other formats store their rate and refuse an ``fps`` argument.
        """
        suffix = _suffix(path)
        if suffix == ".csv":
            from talkinghead.contracts.livelink import (
                load_livelink_csv,  # livelink imports this module
            )

            return load_livelink_csv(path, fps=fps)
        if fps is not None:
            raise ValueError(f"fps= applies to .csv files only; {suffix} files store their fps")
        return load_npz(path) if suffix == ".npz" else load_json(path)


# ------------------------------------------------------------------------- npz
def save_npz(coeffs: Coefficients, path: PathLike) -> None:
    """Exact binary form: the arrays, fps as int64 ``[num, den]``, start_frame, names."""
    with open(path, "wb") as f:  # a file object, so numpy never appends ".npz"
        np.savez_compressed(
            f,
            blendshapes=coeffs.blendshapes,
            pose=coeffs.pose,
            fps=np.array([coeffs.fps.numerator, coeffs.fps.denominator], dtype=np.int64),
            start_frame=np.int64(coeffs.start_frame),
            blendshape_names=np.array(ARKIT_NAMES),
            pose_names=np.array(POSE_NAMES),
            source=np.array(coeffs.source),
        )


def load_npz(path: PathLike) -> Coefficients:
    """Read ``save_npz`` output; the stored name arrays must match our order."""
    keys = ("blendshapes", "pose", "fps", "start_frame", "blendshape_names", "pose_names")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("holds a single array, not an npz archive")  # noqa: TRY004
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise ValueError(f"lacks {', '.join(missing)}")
            arrays = {k: data[k] for k in keys}
            source = str(data["source"]) if "source" in data.files else ""
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        raise ValueError(f"{os.fspath(path)}: not a coefficients .npz ({_one_line(exc)})") from None
    if arrays["blendshape_names"].tolist() != list(ARKIT_NAMES):
        raise ValueError(f"{os.fspath(path)}: blendshape_names do not match ARKIT_NAMES order")
    if arrays["pose_names"].tolist() != list(POSE_NAMES):
        raise ValueError(f"{os.fspath(path)}: pose_names do not match POSE_NAMES {POSE_NAMES}")
    start = arrays["start_frame"]
    if start.shape != ():
        raise ValueError(f"{os.fspath(path)}: start_frame must be a scalar, got {start.shape}")
    return Coefficients(arrays["blendshapes"], arrays["pose"], arrays["fps"], start[()], source)


# ------------------------------------------------------------------------ json
def _float_list(column: np.ndarray) -> list[float]:
    """Shortest decimal that reads back as the same float32 (compact JSON)."""
    return [float(s) for s in column.astype(np.float32).astype(str)]


def to_json_dict(coeffs: Coefficients) -> dict[str, Any]:
    """The JSON document as a dict: names map to per-frame lists."""
    return {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "fps": [coeffs.fps.numerator, coeffs.fps.denominator],
        "start_frame": coeffs.start_frame,
        "blendshape_names": list(ARKIT_NAMES),
        "pose_names": list(POSE_NAMES),
        "blendshapes": {
            n: _float_list(coeffs.blendshapes[:, i]) for i, n in enumerate(ARKIT_NAMES)
        },
        "pose": {n: _float_list(coeffs.pose[:, i]) for i, n in enumerate(POSE_NAMES)},
        "source": coeffs.source,
    }


def _named_columns(
    doc: dict[str, Any], field: str, names_key: str, names: Sequence[str]
) -> np.ndarray:
    """The (T, len(names)) matrix of ``doc[field]``, columns taken by name."""
    table = doc.get(field)
    if not isinstance(table, dict):
        raise ValueError(  # noqa: TRY004
            f"coefficients JSON: {field!r} must be an object of name -> list"
        )
    missing = [n for n in names if n not in table]
    unknown = [n for n in table if n not in names]
    if missing or unknown:
        raise ValueError(
            f"coefficients JSON: {field} names do not match: missing {missing[:5]}, "
            f"unknown {unknown[:5]}"
        )
    listed = doc.get(names_key)
    if listed is not None and (not isinstance(listed, list) or sorted(listed) != sorted(names)):
        raise ValueError(f"coefficients JSON: {names_key} does not match the {field} keys")
    columns = [table[n] for n in names]
    if not all(isinstance(c, list) for c in columns):
        raise ValueError(f"coefficients JSON: every {field} entry must be a list of numbers")
    if len({len(c) for c in columns}) > 1:
        raise ValueError(f"coefficients JSON: {field} lists have different lengths")
    if not all(type(v) in (int, float) for c in columns for v in c):
        raise ValueError(f"coefficients JSON: {field} lists must hold only numbers")
    return np.array(columns, dtype=np.float64).reshape(len(names), -1).T


def from_json_dict(doc: Any) -> Coefficients:
    """Inverse of ``to_json_dict``; columns are read by name, so key order is free."""
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
        raise ValueError(f"not a coefficients JSON document (expected format {JSON_FORMAT!r})")
    if doc.get("version") != JSON_VERSION:
        raise ValueError(
            f"unsupported coefficients JSON version {doc.get('version')!r} "
            f"(this reader knows {JSON_VERSION})"
        )
    for key in ("fps", "start_frame"):
        if key not in doc:
            raise ValueError(f"coefficients JSON lacks {key!r}")
    return Coefficients(
        _named_columns(doc, "blendshapes", "blendshape_names", ARKIT_NAMES),
        _named_columns(doc, "pose", "pose_names", POSE_NAMES),
        doc["fps"],
        doc["start_frame"],
        _source(doc.get("source", "")),
    )


def _source(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"coefficients JSON: source must be a string, got {type(value).__name__}")  # noqa: TRY004
    return value


def save_json(coeffs: Coefficients, path: PathLike) -> None:
    """Write ``to_json_dict`` as compact JSON."""
    text = json.dumps(to_json_dict(coeffs), separators=(",", ":"), allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


def load_json(path: PathLike) -> Coefficients:
    """Read ``save_json`` output."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{os.fspath(path)}: invalid JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    except UnicodeDecodeError:
        raise ValueError(f"{os.fspath(path)}: not UTF-8 text") from None
    return from_json_dict(doc)
