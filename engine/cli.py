"""The ``talkinghead`` command line: one subcommand per job.

Every subcommand turns expected failures (bad input files, no face, ...)
into a one-line ``talkinghead: error: ...`` message and exit status 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import talkinghead


def _default_portrait() -> Path:
    """Matplotlib's public-domain Grace Hopper portrait (installed with the track extra)."""
    try:
        from matplotlib import cbook
    except ImportError:
        raise ImportError("the built-in portrait needs the track extra: pip install 'talkinghead[track]'") from None
    return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def _track(args: argparse.Namespace) -> int:
    from talkinghead.renderer.tracking import TrackerConfig, track_video

    config = TrackerConfig(max_faces=args.max_faces, min_valid_fraction=args.min_valid)
    track = track_video(args.video or _default_portrait(), config, progress=not args.quiet)
    track.save(args.output)
    if not args.quiet:
        print(
            f"tracked {track.num_frames} frames at {track.fps} fps, "
            f"{track.valid.mean():.1%} with a face -> {args.output}",
            file=sys.stderr,
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="talkinghead",
        description="Speech to a talking face: ARKit-52 coefficients and avatar video.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {talkinghead.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    track = commands.add_parser(
        "track",
        help="track a face video into per-frame landmarks, ARKit weights and head pose",
        description="Track the (largest) face of VIDEO with MediaPipe face mesh and solve "
        "ARKit blendshape weights and head pose per frame. A photo is a one-frame video. "
        "Needs the 'track' extra.",
    )
    track.add_argument("video", type=Path, nargs="?", help="input video (or photo); default: a built-in portrait")
    track.add_argument("-o", "--output", type=Path, required=True, help="output TRACK.npz")
    track.add_argument("--max-faces", type=int, default=4, help="faces detected per frame (the largest is kept)")
    track.add_argument("--min-valid", type=float, default=0.5, help="refuse videos with a smaller fraction of frames with a face")
    track.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    track.set_defaults(run=_track)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except (ValueError, OSError, ImportError) as error:
        parser.exit(2, f"talkinghead: error: {error}\n")
    except KeyboardInterrupt:
        parser.exit(130, "talkinghead: interrupted\n")
