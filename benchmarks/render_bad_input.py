"""`talkinghead enroll` and `render` on the renderer issue's bad inputs: each gets one clear line.

    python benchmarks/render_bad_input.py

Makes the inputs in a temporary folder and runs the CLI on each in a child
process (``python -m talkinghead ...``):
- a video with no face (grey frames, with speech): ``enroll`` fails;
- a 2 s video of a talking face (the default avatar, rendered): ``enroll``
  succeeds and warns that the A/V offset could not be measured;
- a corrupt file: ``enroll`` fails;
- a photo with two faces: ``enroll --image`` fails;
- an avatar bundle of a newer format version: ``render --avatar`` fails.
Prints a Markdown table (case, exit status, the last stderr line, seconds)
and exits 1 if a case's exit status is not the expected one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from talkinghead import load_avatar
from talkinghead.contracts.audio_io import load_audio
from talkinghead.jobs.render import demo_audio, render_file
from talkinghead.renderer.avatar import default_avatar_dir
from talkinghead.renderer.video import VideoWriter, write_image


def make_inputs(folder: Path) -> list[tuple[str, list[str], int]]:
    """Each case: its name, the CLI arguments and the exit status it should give."""
    samples, rate = load_audio(demo_audio())
    speech = samples[: 2 * rate]
    with VideoWriter(folder / "noface.mp4", Fraction(25), (240, 320), speech, rate) as out:
        out.write(np.full((50, 240, 320, 3), 90, np.uint8))
    sf.write(folder / "two_seconds.wav", speech, rate)
    render_file(folder / "two_seconds.wav", folder / "two_seconds.mp4", progress=False)
    (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video at all")
    image = load_avatar().image
    write_image(folder / "two_faces.png", np.concatenate([image, image], 1))
    shutil.copytree(default_avatar_dir(), folder / "newer")
    meta = json.loads((folder / "newer" / "avatar.json").read_text())
    meta["format_version"] += 1
    (folder / "newer" / "avatar.json").write_text(json.dumps(meta))
    out = str(folder / "avatar")
    return [
        ("video with no face", ["enroll", str(folder / "noface.mp4"), "-o", out, "-q"], 2),
        ("2 s video of a face", ["enroll", str(folder / "two_seconds.mp4"), "-o", out + "2", "-q"], 0),
        ("corrupt file", ["enroll", str(folder / "corrupt.mp4"), "-o", out, "-q"], 2),
        ("photo with two faces", ["enroll", "--image", str(folder / "two_faces.png"), "-o", out, "-q"], 2),
        ("bundle of a newer format version", ["render", str(folder / "two_seconds.wav"), "--avatar",
                                              str(folder / "newer"), "-o", str(folder / "out.mp4"), "-q"], 2),
    ]


def main() -> int:
    failed = 0
    print("| case | exit (expected) | last stderr line | seconds |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as name:
        for case, args, expected in make_inputs(Path(name)):
            start = time.perf_counter()
            child = subprocess.run([sys.executable, "-m", "talkinghead", *args], capture_output=True, text=True)
            lines = [line for line in child.stderr.splitlines() if line.startswith("talkinghead")]
            last = (lines or [""])[-1].replace(name, "TMP")
            failed += child.returncode != expected
            print(f"| {case} | {child.returncode} ({expected}) | `{last}` | {time.perf_counter() - start:.1f} |",
                  flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
