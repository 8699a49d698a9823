"""The Live Link Face CSV layout for ``Coefficients``, so Unreal / Unity tooling can open it.

Columns: ``Timecode``, ``BlendShapeCount`` (61 on every row), the 52
blendshapes with the first letter capitalised in ``ARKIT_NAMES`` order,
``HeadYaw, HeadPitch, HeadRoll``, six eye rotations, then the talkinghead
extension ``HeadTranslationX/Y/Z`` (our tx, ty, tz; tools that read columns by
name ignore them). ``Coefficients.save`` / ``load`` use this module for
``.csv`` paths.
"""

from __future__ import annotations

import csv
import io
import os
import re
from fractions import Fraction
from pathlib import Path

import numpy as np

from talkinghead.contracts.arkit import ARKIT_NAMES, POSE_NAMES
from talkinghead.contracts.clock import check_count
from talkinghead.contracts.coefficients import Coefficients, FpsLike, PathLike, _one_line, parse_fps

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
# Our pose column behind each Live Link pose column (Live Link orders angles yaw, pitch, roll).
_HEAD_POSE_INDEX = tuple(POSE_NAMES.index(n) for n in ("yaw", "pitch", "roll"))
_TRANSLATION_POSE_INDEX = tuple(POSE_NAMES.index(n) for n in ("tx", "ty", "tz"))
_POSE_INDEX = dict(
    zip(
        (*LIVELINK_HEAD_COLUMNS, *LIVELINK_TRANSLATION_COLUMNS),
        (*_HEAD_POSE_INDEX, *_TRANSLATION_POSE_INDEX),
    )
)
_TIMECODE_RE = re.compile(r"(\d+):(\d{1,2}):(\d{1,2}):(\d+)(?:\.(\d+))?")


# -------------------------------------------------------------------- timecodes
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
    return _timecode(check_count(frame, "frame"), parse_fps(fps))


def _timecode(frame: int, fps: Fraction) -> str:
    """``livelink_timecode`` for already-validated arguments."""
    nominal = _nominal_rate(fps)
    seconds, rest = divmod(frame * fps.denominator, fps.numerator)  # t = seconds + rest/num
    ff, sub = divmod(rest * nominal, fps.numerator)  # r * N = ff + sub/num
    milli = sub * 1000 // fps.numerator
    hours, rem = divmod(seconds, 3600)
    minutes, secs = divmod(rem, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}:{ff:02d}.{milli:03d}"


def _parse_timecode(text: str, line: int) -> tuple[int, int, Fraction]:
    """(whole seconds, FF, sub-frame fraction in [0, 1)) of one timecode."""
    match = _TIMECODE_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"Live Link CSV line {line}: timecode {text!r} is not HH:MM:SS:FF.mmm")
    hours, minutes, secs, ff = (int(g) for g in match.group(1, 2, 3, 4))
    if minutes >= 60 or secs >= 60:
        raise ValueError(f"Live Link CSV line {line}: timecode {text!r} has minutes/seconds >= 60")
    digits = match.group(5) or "0"
    return hours * 3600 + minutes * 60 + secs, ff, Fraction(int(digits), 10 ** len(digits))


# ----------------------------------------------------------------------- write
def to_livelink_csv(coeffs: Coefficients) -> str:
    """The Live Link Face CSV text for ``coeffs`` (see ``save_livelink_csv``)."""
    values = np.concatenate(
        [
            coeffs.blendshapes,
            coeffs.pose[:, list(_HEAD_POSE_INDEX)],
            np.zeros((len(coeffs), len(LIVELINK_EYE_COLUMNS)), np.float32),
            coeffs.pose[:, list(_TRANSLATION_POSE_INDEX)],
        ],
        axis=1,
    ).astype(str)
    lines = [",".join(LIVELINK_HEADER)]
    for frame, row in zip(range(coeffs.start_frame, coeffs.end_frame), values.tolist()):
        timecode = _timecode(frame, coeffs.fps)
        lines.append(f"{timecode},{LIVELINK_BLENDSHAPE_COUNT},{','.join(row)}")
    return "\n".join(lines) + "\n"


def save_livelink_csv(coeffs: Coefficients, path: PathLike) -> None:
    """Write the Live Link Face CSV layout (see the module docstring for the columns).

    Timecodes: ``livelink_timecode``. Head angles are written in radians in
    our pose convention (see ``Coefficients``), unconverted. Live Link Face's
    own recordings also store head angles as small radians-like normalised
    values that consumers scale; its sign conventions are not verified
    against ours. Eye rotations are 0: gaze lives only in the ``eyeLook*``
    blendshapes here. Values are the shortest decimals that read back as the
    same float32.
    """
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(to_livelink_csv(coeffs))


# ------------------------------------------------------------------------ read
def _column_index(header_row: list[str]) -> dict[str, int]:
    """Lower-cased column name -> position; repeated or missing columns are refused."""
    column: dict[str, int] = {}
    for j, name in enumerate(header_row):
        key = name.strip().lower()
        if key in column:
            raise ValueError(f"Live Link CSV header repeats column {name.strip()!r}")
        column[key] = j
    required = ("Timecode", *LIVELINK_BLENDSHAPE_COLUMNS, *LIVELINK_HEAD_COLUMNS)
    missing = [n for n in required if n.lower() not in column]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ValueError(f"Live Link CSV lacks column(s) {', '.join(missing[:5])}{more}")
    return column


def _rate(timecodes: list[tuple[int, int, Fraction]], fps: FpsLike | None) -> Fraction:
    """``fps`` if given, else the nominal integer rate ``max(FF) + 1`` of the timecodes."""
    if fps is not None:
        return parse_fps(fps)
    if not timecodes:
        raise ValueError("cannot infer fps from a Live Link CSV with no rows; pass fps=")
    if len({seconds for seconds, _, _ in timecodes}) < 2:
        raise ValueError("cannot infer fps: the timecodes stay within one second; pass fps=")
    return Fraction(max(ff for _, ff, _ in timecodes) + 1)


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
    column = _column_index(rows[0])
    header, body = rows[0], rows[1:]
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(
                f"Live Link CSV line {line}: {len(row)} fields, the header has {len(header)}"
            )
    pose_columns = [c for c in _POSE_INDEX if c.lower() in column]
    picks = [column[c.lower()] for c in (*LIVELINK_BLENDSHAPE_COLUMNS, *pose_columns)]
    try:
        values = np.array([[row[j].strip() for j in picks] for row in body], dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"Live Link CSV holds a non-numeric value ({_one_line(exc)})") from None
    values = values.reshape(len(body), len(picks))
    blendshapes = values[:, : len(ARKIT_NAMES)]
    pose = np.zeros((len(body), len(POSE_NAMES)), np.float64)
    pose[:, [_POSE_INDEX[c] for c in pose_columns]] = values[:, len(ARKIT_NAMES) :]

    tc_col = column["timecode"]
    timecodes = [_parse_timecode(row[tc_col], line) for line, row in enumerate(body, start=2)]
    rate = _rate(timecodes, fps)
    nominal = _nominal_rate(rate)
    for line, (_, ff, _) in enumerate(timecodes, start=2):
        if ff >= nominal:
            raise ValueError(
                f"Live Link CSV line {line}: timecode frame {ff} >= {nominal} frames per second "
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
