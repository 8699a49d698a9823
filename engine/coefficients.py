"""The per-frame face coefficients every stage exchanges, and their file formats.

``Coefficients`` is the contract between audio2motion, the motion layer, the
renderer and every transport: 52 ARKit blendshape weights plus a 6-value head
pose per video frame, stamped with the frame rate and the frame index of row 0
on the session's frame clock, so chunks can be sliced and re-joined without
ever re-timing a frame.

Files: ``.npz`` (exact), ``.json`` (names -> arrays, for web clients) and the
Live Link Face CSV layout (opens in Unreal / Unity tooling); see ``save`` and
``load``.
"""

from __future__ import annotations

import builtins
import csv
import io
import itertools
import json
import math
import numbers
import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .arkit import ARKIT_INDEX, ARKIT_NAMES, POSE_NAMES

FpsLike = int | Fraction | str | Sequence[int] | np.ndarray
PathLike = str | os.PathLike[str]

#: Blendshape weights this far outside [0, 1] (float rounding in upstream maths)
#: are clipped to the range; anything further out is a ValueError.
WEIGHT_TOLERANCE = 1e-6

JSON_FORMAT = "talkinghead.coefficients"
JSON_VERSION = 1

#: Live Link Face column names: ARKit names with the first letter capitalised.
LIVELINK_BLENDSHAPE_COLUMNS: tuple[str, ...] = tuple(n[0].upper() + n[1:] for n in ARKIT_NAMES)
LIVELINK_HEAD_COLUMNS: tuple[str, ...] = ("HeadYaw", "HeadPitch", "HeadRoll")
LIVELINK_EYE_COLUMNS: tuple[str, ...] = (
    "LeftEyeYaw",
    "LeftEyePitch",
    "LeftEyeRoll",
    "RightEyeYaw",
    "RightEyePitch",
    "RightEyeRoll",
)
#: talkinghead extension: appended after the 61 standard Live Link columns.
LIVELINK_TRANSLATION_COLUMNS: tuple[str, ...] = (
    "HeadTranslationX",
    "HeadTranslationY",
    "HeadTranslationZ",
)
LIVELINK_BLENDSHAPE_COUNT = 61  # value of the BlendShapeCount column: 52 + 3 head + 6 eye
LIVELINK_HEADER: tuple[str, ...] = (
    "Timecode",
    "BlendShapeCount",
    *LIVELINK_BLENDSHAPE_COLUMNS,
    *LIVELINK_HEAD_COLUMNS,
    *LIVELINK_EYE_COLUMNS,
    *LIVELINK_TRANSLATION_COLUMNS,
)
# pose columns (pitch, yaw, roll) as Live Link orders them (yaw, pitch, roll)
_HEAD_POSE_INDEX = (POSE_NAMES.index("yaw"), POSE_NAMES.index("pitch"), POSE_NAMES.index("roll"))
_TIMECODE_RE = re.compile(r"(\d+):(\d{1,2}):(\d{1,2}):(\d+)(?:\.(\d+))?")


def parse_fps(value: FpsLike) -> Fraction:
    """Normalise a frame rate to a positive ``Fraction``.

    Accepts an int, a ``Fraction``, a string (``"25"``, ``"30000/1001"``), a
    ``[num, den]`` pair (list, tuple or integer array, as files carry it) or an
    integral float. A non-integral float (``29.97``) is refused: it cannot say
    whether ``30000/1001`` was meant.
    """
    fps = _to_fraction(value)
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    return fps


def _to_fraction(value: Any) -> Fraction:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"fps must be a number, got {value!r}")
    if isinstance(value, numbers.Integral):
        return Fraction(int(value))
    if isinstance(value, numbers.Rational):
        return Fraction(int(value.numerator), int(value.denominator))
    if isinstance(value, numbers.Real):
        as_float = float(value)
        if math.isfinite(as_float) and as_float.is_integer():
            return Fraction(int(as_float))
        raise ValueError(
            f"fps {value!r} is a non-integral float, which is ambiguous; "
            "pass a Fraction, a 'num/den' string or [num, den] (e.g. '30000/1001')"
        )
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise ValueError(
                f"fps {value!r} is not a rational number like '25' or '30000/1001'"
            ) from None
    if isinstance(value, np.ndarray):
        if value.shape != (2,) or value.dtype.kind not in "iu":
            raise ValueError(
                f"fps array must be two integers [num, den], got shape {value.shape} "
                f"dtype {value.dtype}"
            )
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in value
        ):
            raise ValueError(f"fps pair must be two integers [num, den], got {value!r}")
        if int(value[1]) == 0:
            raise ValueError(f"fps pair has a zero denominator: {value!r}")
        return Fraction(int(value[0]), int(value[1]))
    raise ValueError(
        f"fps must be an int, Fraction, 'num/den' string or [num, den], got {type(value).__name__}"
    )


def _as_count(name: str, value: Any) -> int:
    """An int >= 0 (frame index or frame count); numpy integers accepted."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {int(value)}")
    return int(value)


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


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


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

    Equality (``==``) is exact: same arrays bit for bit, fps and start_frame.
    """

    blendshapes: np.ndarray
    pose: np.ndarray
    fps: Fraction
    start_frame: int = 0

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
        object.__setattr__(self, "start_frame", _as_count("start_frame", self.start_frame))

    # ----------------------------------------------------------- construction
    @classmethod
    def empty(cls, fps: FpsLike, start_frame: int = 0) -> Coefficients:
        """No frames; a chunk that happens to be empty keeps its place on the clock."""
        return cls.zeros(0, fps, start_frame)

    @classmethod
    def zeros(cls, num_frames: int, fps: FpsLike, start_frame: int = 0) -> Coefficients:
        """``num_frames`` frames of neutral face (all weights 0) at zero pose."""
        n = _as_count("num_frames", num_frames)
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
                raise ValueError(f"concat: chunk {i} is a {type(chunk).__name__}, not Coefficients")
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
        suffix = Path(path).suffix.lower()
        if suffix == ".npz":
            save_npz(self, path)
        elif suffix == ".json":
            save_json(self, path)
        elif suffix == ".csv":
            save_livelink_csv(self, path)
        else:
            raise ValueError(f"unsupported coefficients file suffix {suffix!r}; {_SUFFIXES}")

    @classmethod
    def load(cls, path: PathLike, *, fps: FpsLike | None = None) -> Coefficients:
        """Read a file written by ``save`` (or a Live Link Face CSV), by suffix.

        ``fps`` applies to CSV only (see ``from_livelink_csv``); the other
        formats store their rate and refuse an ``fps`` argument.
        """
        suffix = Path(path).suffix.lower()
        if suffix == ".csv":
            return load_livelink_csv(path, fps=fps)
        if suffix not in (".npz", ".json"):
            raise ValueError(f"unsupported coefficients file suffix {suffix!r}; {_SUFFIXES}")
        if fps is not None:
            raise ValueError(f"fps= applies to .csv files only; {suffix} files store their fps")
        return load_npz(path) if suffix == ".npz" else load_json(path)


_SUFFIXES = "expected .npz, .json or .csv"


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
        )


def load_npz(path: PathLike) -> Coefficients:
    """Read ``save_npz`` output; the stored name arrays must match our order."""
    keys = ("blendshapes", "pose", "fps", "start_frame", "blendshape_names", "pose_names")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("holds a single array, not an npz archive")
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise ValueError(f"lacks {', '.join(missing)}")
            arrays = {k: data[k] for k in keys}
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        raise ValueError(f"{os.fspath(path)}: not a coefficients .npz ({_one_line(exc)})") from None
    if arrays["blendshape_names"].tolist() != list(ARKIT_NAMES):
        raise ValueError(f"{os.fspath(path)}: blendshape_names do not match ARKIT_NAMES order")
    if arrays["pose_names"].tolist() != list(POSE_NAMES):
        raise ValueError(f"{os.fspath(path)}: pose_names do not match POSE_NAMES {POSE_NAMES}")
    start = arrays["start_frame"]
    if start.shape != ():
        raise ValueError(f"{os.fspath(path)}: start_frame must be a scalar, got {start.shape}")
    return Coefficients(arrays["blendshapes"], arrays["pose"], arrays["fps"], start[()])


# ------------------------------------------------------------------------ json
def _float_list(column: np.ndarray) -> list[float]:
    """Shortest decimal that reads back as the same float32 (compact JSON/CSV)."""
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
    }


def _named_columns(
    doc: dict[str, Any], field: str, names_key: str, names: Sequence[str]
) -> np.ndarray:
    """The (T, len(names)) matrix of ``doc[field]``, columns taken by name."""
    table = doc.get(field)
    if not isinstance(table, dict):
        raise ValueError(f"coefficients JSON: {field!r} must be an object of name -> list")
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
    )


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


# ------------------------------------------------------------- Live Link CSV
def _nominal_rate(fps: Fraction) -> int:
    """The integer frame count per second a timecode's FF field runs at."""
    return max(1, round(fps))


def livelink_timecode(frame: int, fps: FpsLike) -> str:
    """``HH:MM:SS:FF.mmm`` for frame ``frame``'s presentation time ``frame / fps``.

    Computed exactly in integers. With ``N = round(fps)`` the nominal rate and
    ``t = S + r`` (whole seconds ``S``, ``0 <= r < 1``): ``FF = floor(r * N)``
    and ``mmm = floor(1000 * frac(r * N))``, the sub-frame position in
    thousandths of a nominal frame, truncated. Integer rates therefore give
    ``.000`` and ``FF = frame mod fps``; 30000/1001 gives e.g. frame 30 ->
    ``00:00:01:00.030``. Hours count up from the session start (no 24 h wrap).
    Live Link Face itself writes time of day; ours starts at 00:00:00:00.
    """
    fps = parse_fps(fps)
    frame = _as_count("frame", frame)
    nominal = _nominal_rate(fps)
    seconds, rest = divmod(frame * fps.denominator, fps.numerator)  # t = seconds + rest/num
    ff, sub = divmod(rest * nominal, fps.numerator)  # r * N = ff + sub/num
    milli = sub * 1000 // fps.numerator
    hours, rem = divmod(seconds, 3600)
    minutes, secs = divmod(rem, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}:{ff:02d}.{milli:03d}"


def _parse_timecode(text: str, row: int) -> tuple[int, int, Fraction]:
    """(whole seconds, FF, sub-frame fraction in [0, 1)) of one timecode."""
    match = _TIMECODE_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"Live Link CSV row {row}: timecode {text!r} is not HH:MM:SS:FF.mmm")
    hours, minutes, secs, ff = (int(g) for g in match.group(1, 2, 3, 4))
    if minutes >= 60 or secs >= 60:
        raise ValueError(f"Live Link CSV row {row}: timecode {text!r} has minutes/seconds >= 60")
    digits = match.group(5) or "0"
    return hours * 3600 + minutes * 60 + secs, ff, Fraction(int(digits), 10 ** len(digits))


def to_livelink_csv(coeffs: Coefficients) -> str:
    """The Live Link Face CSV text for ``coeffs`` (see ``save_livelink_csv``)."""
    t = len(coeffs)
    values = np.concatenate(
        [
            coeffs.blendshapes,
            coeffs.pose[:, list(_HEAD_POSE_INDEX)],
            np.zeros((t, len(LIVELINK_EYE_COLUMNS)), np.float32),
            coeffs.pose[:, 3:6],
        ],
        axis=1,
    ).astype(str)
    lines = [",".join(LIVELINK_HEADER)]
    for frame, row in zip(range(coeffs.start_frame, coeffs.end_frame), values.tolist()):
        timecode = livelink_timecode(frame, coeffs.fps)
        lines.append(f"{timecode},{LIVELINK_BLENDSHAPE_COUNT},{','.join(row)}")
    return "\n".join(lines) + "\n"


def save_livelink_csv(coeffs: Coefficients, path: PathLike) -> None:
    """Write the Live Link Face CSV layout, so Unreal / Unity tooling can open it.

    Columns: ``Timecode``, ``BlendShapeCount`` (61 on every row), the 52
    blendshapes with the first letter capitalised in ``ARKIT_NAMES`` order,
    ``HeadYaw, HeadPitch, HeadRoll``, six eye rotations, then the talkinghead
    extension ``HeadTranslationX/Y/Z`` (our tx, ty, tz; tools that read columns
    by name ignore them). Timecodes: ``livelink_timecode``.

    Head angles are written in radians in our pose convention (see
    ``Coefficients``), unconverted. Live Link Face's own recordings also store
    head angles as small radians-like normalised values that consumers scale;
    its sign conventions are not verified against ours. Eye rotations are 0:
    gaze lives only in the ``eyeLook*`` blendshapes here. Values are the
    shortest decimals that read back as the same float32.
    """
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(to_livelink_csv(coeffs))


def from_livelink_csv(text: str, fps: FpsLike | None = None) -> Coefficients:
    """Parse Live Link Face CSV text, reading columns by name (any order, any case).

    Required: ``Timecode``, the 52 blendshapes and ``HeadYaw/HeadPitch/HeadRoll``;
    the ``HeadTranslationX/Y/Z`` extension columns are optional (0 when absent,
    as in a genuine Live Link Face recording); other columns are ignored.

    Rate: ``fps`` if given; timecodes are then decoded at ``round(fps)``
    frames per second. Otherwise it is inferred as the nominal integer rate
    ``max(FF) + 1``, which needs rows on both sides of a whole-second boundary
    (always true for a file spanning >= 1 s); a non-integer rate such as
    30000/1001 cannot be inferred (it reads as 30) and must be passed.
    ``start_frame`` is ``round(t0 * fps)`` for the first row's timecode time
    ``t0``; later rows are taken as consecutive frames (their timecodes serve
    only to infer the rate). A file with no rows loads as empty at frame 0.
    """
    rows = [r for r in csv.reader(io.StringIO(text.lstrip("\ufeff"))) if any(c.strip() for c in r)]
    if not rows:
        raise ValueError("Live Link CSV is empty (no header row)")
    header = [h.strip().lower() for h in rows[0]]
    column: dict[str, int] = {}
    for j, name in enumerate(header):
        if name in column:
            raise ValueError(f"Live Link CSV header repeats column {rows[0][j].strip()!r}")
        column[name] = j
    required = ("Timecode", *LIVELINK_BLENDSHAPE_COLUMNS, *LIVELINK_HEAD_COLUMNS)
    missing = [n for n in required if n.lower() not in column]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ValueError(f"Live Link CSV lacks column(s) {', '.join(missing[:5])}{more}")
    body = rows[1:]
    for n, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(
                f"Live Link CSV line {n}: {len(row)} fields, the header has {len(header)}"
            )
    numeric = (
        *LIVELINK_BLENDSHAPE_COLUMNS,
        *LIVELINK_HEAD_COLUMNS,
        *(c for c in LIVELINK_TRANSLATION_COLUMNS if c.lower() in column),
    )
    picks = [column[c.lower()] for c in numeric]
    try:
        values = np.array([[row[j].strip() for j in picks] for row in body], dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"Live Link CSV holds a non-numeric value ({_one_line(exc)})") from None
    values = values.reshape(len(body), len(numeric))

    pose = np.zeros((len(body), len(POSE_NAMES)), np.float64)
    for k, name in enumerate(numeric[len(ARKIT_NAMES) :]):
        if name in LIVELINK_HEAD_COLUMNS:
            pose[:, _HEAD_POSE_INDEX[LIVELINK_HEAD_COLUMNS.index(name)]] = values[
                :, len(ARKIT_NAMES) + k
            ]
        else:
            pose[:, 3 + LIVELINK_TRANSLATION_COLUMNS.index(name)] = values[:, len(ARKIT_NAMES) + k]
    blendshapes = values[:, : len(ARKIT_NAMES)]

    tc_col = column["timecode"]
    timecodes = [_parse_timecode(row[tc_col], n) for n, row in enumerate(body, start=2)]
    if fps is None:
        if not timecodes:
            raise ValueError("cannot infer fps from a Live Link CSV with no rows; pass fps=")
        if len({seconds for seconds, _, _ in timecodes}) < 2:
            raise ValueError("cannot infer fps: the timecodes stay within one second; pass fps=")
        rate = Fraction(max(ff for _, ff, _ in timecodes) + 1)
    else:
        rate = parse_fps(fps)
    nominal = _nominal_rate(rate)
    for n, (_, ff, _) in enumerate(timecodes, start=2):
        if ff >= nominal:
            raise ValueError(
                f"Live Link CSV line {n}: timecode frame {ff} >= {nominal} frames per second "
                f"of fps {rate}; wrong fps?"
            )
    start_frame = 0
    if timecodes:
        seconds, ff, sub = timecodes[0]
        start_frame = round((seconds + (ff + sub) / nominal) * rate)
    return Coefficients(blendshapes, pose, rate, start_frame)


def load_livelink_csv(path: PathLike, fps: FpsLike | None = None) -> Coefficients:
    """Read a Live Link Face CSV file (see ``from_livelink_csv``)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{os.fspath(path)}: not UTF-8 text") from None
    return from_livelink_csv(text, fps=fps)
