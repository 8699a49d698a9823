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


def _animate(args: argparse.Namespace) -> int:
    from talkinghead.contracts.audio_io import load_audio
    from talkinghead.contracts.clock import as_fraction

    fps = as_fraction(args.fps, "fps")
    samples, rate = load_audio(args.audio)
    if args.text is not None:
        from talkinghead.audio2motion.align import text_coefficients

        coefficients = text_coefficients(samples, rate, args.text, fps)
    else:
        from talkinghead.audio2motion.animate import animate

        model = _network(args)
        coefficients = animate(model, samples, rate, fps, args.lookahead_ms)
    coefficients = _apply_motion(coefficients, samples, rate, args)
    coefficients.save(args.output)
    if not args.quiet:
        print(f"{len(coefficients)} frames at {fps} fps -> {args.output}", file=sys.stderr)
    return 0


def _render(args: argparse.Namespace) -> int:
    from talkinghead.contracts.clock import as_fraction
    from talkinghead.jobs.render import RenderConfig, render_file

    config = RenderConfig(fps=as_fraction(args.fps, "fps"), lookahead_ms=args.lookahead_ms, seed=args.seed,
                          backend=args.backend, device=args.device, ears=args.ears)
    frames = render_file(args.audio, args.output, args.avatar, args.coefficients, config, progress=not args.quiet)
    if not args.quiet:
        print(f"{frames} frames at {config.fps} fps -> {args.output}", file=sys.stderr)
    return 0


def _enroll(args: argparse.Namespace) -> int:
    if args.video is not None and args.image is not None:
        raise ValueError("give a VIDEO or --image, not both")
    if args.video is not None:
        from talkinghead.jobs.enroll import enroll_video

        avatar = enroll_video(args.video, args.audio, preset=args.preset, device=args.device,
                              max_minutes=args.max_minutes, work_dir=args.output,
                              finetune_audio2motion=args.finetune_a2m, progress=not args.quiet, ears=args.ears)
        avatar.save(args.output)  # the track enrollment left there stays the bundle's
        (args.output / "lower_face.ckpt").unlink(missing_ok=True)
        if not avatar.av_offset_trusted:
            print(f"talkinghead: warning: {args.video}: the A/V offset could not be measured; assuming 0",
                  file=sys.stderr)
        if not args.quiet:
            print(f"video avatar ({avatar.preset}): {len(avatar.frames)} base frames, A/V offset {avatar.av_offset:+d} frames "
                  f"-> {args.output}", file=sys.stderr)
        return 0
    from talkinghead.renderer.photo import enroll_photo

    photo = enroll_photo(args.image or _default_portrait())
    photo.save(args.output)
    if not args.quiet:
        height, width = photo.image.shape[:2]
        print(f"photo avatar {width}x{height} -> {args.output}", file=sys.stderr)
    return 0


def _dub(args: argparse.Namespace) -> int:
    from talkinghead.jobs.dub import DubConfig, dub

    config = DubConfig(preset=args.preset, tail=args.tail, watermark=args.watermark, lookahead_ms=args.lookahead_ms,
                       backend=args.backend, device=args.device, face=args.face, ears=args.ears)
    result = dub(args.video, args.audio, args.output, args.avatar, args.video_speech, args.text,
                 args.coefficients_out, config, progress=not args.quiet)
    if not args.quiet:
        print(f"{result.frames} frames ({result.drawn} redrawn, {result.extended} added), {result.seconds:.2f} s "
              f"-> {result.output}", file=sys.stderr)
        if result.faces > 1:
            print(f"dubbed face {result.face} of {result.faces} (counted from the left)", file=sys.stderr)
        for span in result.passed_through:
            print(span, file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    from talkinghead.streaming.live import Engine, limit_malloc_arenas
    from talkinghead.streaming.server import WEB_PAGE, Server, ServerConfig

    web = args.web_root if args.web_root is not None else WEB_PAGE
    if not (web / "index.html").is_file():
        raise ValueError(f"--web-root {web}: no index.html there")
    limit_malloc_arenas()
    avatars = {}
    for entry in args.avatar:
        name, _, path = entry.rpartition("=")
        avatars[name or Path(path).name] = Path(path)
    engine = Engine(avatars, backend=args.backend, device=args.device, max_sessions=args.max_sessions,
                    batch_steps=not args.no_step_batching, ears=args.ears, workers=args.workers)
    config = ServerConfig(host=args.host, port=args.port, token=args.token, max_sessions=args.max_sessions,
                          max_sessions_per_token=args.max_sessions_per_token, origins=tuple(args.origin) or None,
                          web_root=web, admit_by_load=not args.no_load_admission)
    if not args.quiet:
        print(f"talkinghead: serving on ws://{args.host}:{args.port}/v1/stream "
              f"(avatars: {', '.join(engine.avatar_names)})", file=sys.stderr)
    try:
        asyncio.run(Server(engine, config).run())
    finally:
        engine.close()
    return 0


def _live(args: argparse.Namespace) -> int:
    import contextlib

    if not args.virtual_camera:
        raise ValueError("live needs an output: --virtual-camera")
    if args.mic == (args.audio is not None):
        raise ValueError("give --mic or --audio FILE (one of them)")
    from talkinghead.contracts.clock import as_fraction
    from talkinghead.streaming.live import Engine
    from talkinghead.streaming.virtual_camera import (
        FilePlayer,
        Microphone,
        open_camera,
        require,
        run_camera,
    )

    fps = as_fraction(args.fps, "fps")
    if args.mic:
        require("sounddevice")
        device = int(args.mic_device) if args.mic_device and args.mic_device.isdigit() else args.mic_device
        source = Microphone(device)
    else:
        source = FilePlayer.from_file(args.audio)
    require("pyvirtualcam")
    avatars = {args.avatar.name: args.avatar} if args.avatar is not None else None
    engine = Engine(avatars, backend=args.backend, device=args.device, max_sessions=1, ears=args.ears)
    try:
        height, width = engine.renderer().size
        with contextlib.closing(open_camera(width, height, fps, args.camera_device)) as camera:
            if not args.quiet:
                print(f"talkinghead: the avatar is on {camera.device} ({width}x{height} at {fps} fps); "
                      "Ctrl-C stops", file=sys.stderr)
            result = run_camera(engine, source, camera, fps=fps, seconds=args.seconds)
    finally:
        engine.close()
    if not args.quiet:
        overflows = f", {source.overflows} microphone overruns" if args.mic and source.overflows else ""
        print(f"talkinghead: {result.summary()}{overflows}", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from talkinghead.jobs.render import demo_audio, render_file

    frames = render_file(demo_audio(), args.output, progress=not args.quiet)
    if not args.quiet:
        print(f"{frames} frames -> {args.output}", file=sys.stderr)
    return 0


def _network(args: argparse.Namespace):
    """The audio2motion network on the chosen backend (torch weights, or their ONNX export)."""
    from talkinghead.audio2motion.ears import choose_ears
    from talkinghead.audio2motion.model import load_model

    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if args.device == "cuda" else ["CPUExecutionProvider"]
    if args.backend == "onnx" and args.weights is not None and args.weights.suffix == ".onnx":
        from talkinghead.audio2motion.onnx_export import OnnxAudio2Motion

        return OnnxAudio2Motion(args.weights, providers=providers)
    if args.weights is None:
        model = load_model(device=args.device, ears=choose_ears(args.ears))
    else:
        model = load_model(args.weights, device=args.device)
        if args.ears not in ("auto", model.config.ears):
            raise ValueError(f"{args.weights}: these weights hear with {model.config.ears}, not {args.ears}")
    if args.backend == "torch":
        return model
    if model.config.ears != "mel":
        raise ValueError("--backend onnx runs the mel model only; add --ears mel")
    from talkinghead.audio2motion.onnx_export import OnnxAudio2Motion

    return OnnxAudio2Motion.from_model(model, providers=providers)  # exported in memory


def _apply_motion(coefficients, samples, rate, args: argparse.Namespace):
    """The motion layer after the model: silence closes the mouth, blinks, idle head motion."""
    from talkinghead.audio2motion.motion import MotionConfig, apply_motion

    config = MotionConfig.from_knobs(args.lookahead_ms, intensity=args.intensity, style=args.style,
                                     blinks=not args.no_blinks, head_motion=not args.no_head_motion)
    return apply_motion(coefficients, samples, rate, config, seed=args.seed)


def _train_a2m(args: argparse.Namespace) -> int:
    from talkinghead.audio2motion.training.train import TrainConfig, train

    weights = {"closure_weight": args.closure_weight, "lip_shape_weight": args.lip_shape_weight}
    config = TrainConfig(steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed, threads=args.threads,
                         **{name: value for name, value in weights.items() if value is not None})
    import dataclasses

    from talkinghead.audio2motion.model import ModelConfig

    model = ModelConfig.for_ears(args.ears)
    if args.live:
        if args.ears != "whisper":
            raise ValueError("--live trains a Whisper head on live windows: add --ears whisper")
        model = dataclasses.replace(model, live_window=args.live[0], live_hop=args.live[1])
    train(args.corpus, args.output, config, model, progress=not args.quiet, start_from=args.start_from)
    return 0


def _add_ears_option(command: argparse.ArgumentParser) -> None:
    """audio2motion's ears: shared by animate, render, enroll and dub."""
    command.add_argument("--ears", choices=("auto", "mel", "whisper"), default="auto",
                         help="what audio2motion hears with: whisper (Whisper tiny.en features; real voices and "
                         "rooms), mel (the log-mel model), auto (an avatar's calibration's, else whisper when the "
                         "`whisper` extra is installed); recorded in every output")


def _add_timing_options(command: argparse.ArgumentParser) -> None:
    """Frame rate, model look-ahead and the motion layer's seed: shared by animate and render."""
    command.add_argument("--fps", default="30", help="frame rate, e.g. 25, 30, 30000/1001, 60")
    command.add_argument("--lookahead-ms", type=int, default=100, help="model look-ahead, 0..200 in steps of 20")
    command.add_argument("--seed", type=int, default=0, help="seed of blinks and head motion")


def _positive_int(value: str) -> int:
    """An argparse type: a whole number of at least 1 (argparse turns the error into one line)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _add_network_options(command: argparse.ArgumentParser) -> None:
    """Where a standard video avatar's network runs: shared by render, dub, serve and live."""
    command.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                         help="runs a standard video avatar's network (torch or onnxruntime)")
    command.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                         help="device of that network (and of a standard dub's training)")


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

    animate = commands.add_parser(
        "animate",
        help="speech to per-frame ARKit weights and head pose (npz, json or Live Link csv)",
        description="Run audio2motion on AUDIO (any audio file, or a video's audio track). "
        "With --text, align the transcript with PocketSphinx and drive the articulation model "
        "directly instead (offline, English).",
    )
    animate.add_argument("audio", type=Path, help="input audio or video file")
    animate.add_argument("-o", "--output", type=Path, required=True, help="OUT.npz, OUT.json or OUT.csv")
    _add_timing_options(animate)
    animate.add_argument("--text", default=None, help="transcript: text-assisted mode")
    animate.add_argument("--weights", type=Path, default=None, help="a trained a2m.pt or a2m.onnx (default: the shipped weights)")
    animate.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    animate.add_argument("--backend", default="torch", choices=("torch", "onnx"), help="run the network in torch or onnxruntime")
    animate.add_argument("--intensity", type=float, default=1.0, help="scale of mouth motion (motion layer)")
    animate.add_argument("--style", choices=("talk", "idle"), default="talk", help="idle: mouth at rest, blinks and head motion only")
    animate.add_argument("--no-head-motion", action="store_true", help="pose stays neutral (avatars with their own base video)")
    animate.add_argument("--no-blinks", action="store_true")
    animate.add_argument("-q", "--quiet", action="store_true")
    _add_ears_option(animate)
    animate.set_defaults(run=_animate)

    render = commands.add_parser(
        "render",
        help="speech to an avatar video (MP4 with the speech)",
        description="Render AUDIO spoken by an avatar (default: the built-in one) to an MP4 "
        "(H.264 + AAC), driven by audio2motion or by a coefficients file.",
    )
    render.add_argument("audio", type=Path, help="input audio or video file")
    render.add_argument("-o", "--output", type=Path, required=True, help="OUT.mp4")
    render.add_argument("--avatar", type=Path, default=None, help="avatar bundle directory (default: built-in)")
    render.add_argument("--coefficients", type=Path, default=None, help="drive with this .npz/.json/.csv instead")
    _add_timing_options(render)
    _add_network_options(render)
    render.add_argument("-q", "--quiet", action="store_true")
    _add_ears_option(render)
    render.set_defaults(run=_render)

    enroll = commands.add_parser(
        "enroll",
        help="make an avatar bundle from a talking video or a photo",
        description="Make an avatar from a talking VIDEO with its speech (A/V offset, calibration and "
        "base loop found from the video; retrieval preset (default): the lower face redrawn from "
        "the video's own frames at native resolution; quick: the frames warped, with real mouth interiors "
        "retrieved from them; standard: a small network trained on the video redraws "
        "the lower face), or from a photo with one clear, frontal face (--image; best with a closed "
        "mouth; the mouth interior is synthesised). Interrupted enrollments resume. Needs the "
        "'track' extra.",
    )
    enroll.add_argument("video", type=Path, nargs="?", default=None, help="talking video with its speech")
    enroll.add_argument("--audio", type=Path, default=None, help="the video's speech, if it is a separate file")
    enroll.add_argument("--image", type=Path, default=None, help="photo (default without VIDEO: the built-in portrait)")
    enroll.add_argument("-o", "--output", type=Path, required=True, help="output avatar directory")
    enroll.add_argument("--preset", choices=("quick", "standard", "retrieval"), default="retrieval",
                        help="retrieval (default): the lower face redrawn from the video's own frames at native "
                        "resolution (seconds); quick: the frame warped, mouth interiors retrieved (seconds); "
                        "standard: train a lower-face network (minutes)")
    enroll.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the standard preset trains")
    enroll.add_argument("--max-minutes", type=float, default=None, help="enroll on the first N minutes only")
    enroll.add_argument("--finetune-a2m", action="store_true",
                        help="fit audio2motion's articulation layer to this video's mouth (short videos overfit)")
    enroll.add_argument("-q", "--quiet", action="store_true")
    _add_ears_option(enroll)
    enroll.set_defaults(run=_enroll)

    dub = commands.add_parser(
        "dub",
        help="make the person in a video say new speech (lip-synced, at the video's own size and rate)",
        description="Redraw the mouth of the person in VIDEO to say AUDIO: enroll on VIDEO (or use --avatar), "
        "drive the mouth from AUDIO and composite only the face region back into the original frames. "
        "The output keeps VIDEO's resolution, frame times, pixel format, colour tags and rotation, and is "
        "tagged as synthetic. Dubbing someone requires their consent. Needs the 'track' extra.",
    )
    dub.add_argument("video", type=Path, help="the video of the person (with their own speech, or see --video-speech)")
    dub.add_argument("audio", type=Path, help="the new speech (any audio file or video)")
    dub.add_argument("-o", "--output", type=Path, required=True, help="OUT.mp4 (or .mov, .mkv)")
    dub.add_argument("--avatar", type=Path, default=None, help="a video avatar of the same person (skips enrollment)")
    dub.add_argument("--video-speech", type=Path, default=None,
                     help="the person's own speech in VIDEO as a separate file, when VIDEO has no audio track")
    dub.add_argument("--preset", choices=("quick", "standard", "retrieval"), default="retrieval",
                     help="enrollment on VIDEO: retrieval (default) or quick (seconds), standard (trains a network, minutes)")
    dub.add_argument("--text", default=None, help="transcript of AUDIO: text-assisted mouth (English)")
    dub.add_argument("--tail", choices=("rest", "original"), default="rest",
                     help="AUDIO shorter than VIDEO: the rest rests closed and silent, or keeps its own mouth and sound")
    dub.add_argument("--coefficients-out", type=Path, default=None, help="also save the driving coefficients")
    dub.add_argument("--watermark", action="store_true", help="draw a visible 'AI-generated' label")
    dub.add_argument("--lookahead-ms", type=int, default=100, help="model look-ahead, 0..200 in steps of 20")
    dub.add_argument("--face", default="speaking", metavar="speaking|largest|left|right|N",
                     help="several faces in VIDEO: the one whose lips follow VIDEO's own speech (default; the largest "
                     "without speech), the largest, the leftmost, the rightmost, or the N-th from the left")
    _add_network_options(dub)
    dub.add_argument("-q", "--quiet", action="store_true")
    _add_ears_option(dub)
    dub.set_defaults(run=_dub)

    serve = commands.add_parser(
        "serve",
        help="live avatars over WebSocket (protocol v1, docs/PROTOCOL.md) and the browser page",
        description="Serve live sessions on ws://HOST:PORT/v1/stream, with /healthz, /metrics, /v1/avatars "
        "and the browser page at /. Binds to 127.0.0.1 unless told otherwise.",
    )
    serve.add_argument("--avatar", action="append", default=[], metavar="[NAME=]DIR",
                       help="an avatar bundle to offer (repeatable; the first is the default)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--token", default=None, help="shared secret clients must give")
    serve.add_argument("--origin", action="append", default=[], help="allowed Origin (repeatable; default: any)")
    serve.add_argument("--max-sessions", type=int, default=16)
    serve.add_argument("--max-sessions-per-token", type=int, default=8,
                       help="sessions one token (or, without --token, everyone) may hold at once")
    serve.add_argument("--web-root", type=Path, default=None, help="the browser page's folder (default: the page inside the package)")
    serve.add_argument("--workers", type=_positive_int, default=None,
                       help="worker threads that run sessions' model and drawing work (default: one per core)")
    serve.add_argument("--no-load-admission", action="store_true",
                       help="admit sessions up to --max-sessions only, not by the measured spare capacity")
    serve.add_argument("--no-step-batching", action="store_true",
                       help="run each session's audio2motion alone, not batched per tick (for comparison)")
    _add_network_options(serve)
    serve.add_argument("-q", "--quiet", action="store_true")
    _add_ears_option(serve)
    serve.set_defaults(run=_serve)

    live = commands.add_parser(
        "live",
        help="a live avatar as a virtual camera, driven by the microphone (virtualcam extra)",
        description="Drive the avatar live from the microphone (--mic) or from a file played in real time "
        "(--audio) and show it as a webcam (--virtual-camera) that conferencing apps can pick. Needs the "
        "'virtualcam' extra and a virtual camera device (Linux: v4l2loopback; Windows, macOS: OBS's).",
    )
    live.add_argument("--mic", action="store_true", help="drive the avatar from the microphone")
    live.add_argument("--mic-device", default=None, help="microphone name or number (default: the system's)")
    live.add_argument("--audio", type=Path, default=None, help="drive it from this file instead, in real time")
    live.add_argument("--virtual-camera", action="store_true", help="show the avatar on a virtual camera")
    live.add_argument("--camera-device", default=None, help="e.g. /dev/video2 (default: the first one found)")
    live.add_argument("--avatar", type=Path, default=None, help="avatar bundle directory (default: built-in)")
    live.add_argument("--fps", default="25", help="frame rate, e.g. 25, 30")
    live.add_argument("--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)")
    _add_network_options(live)
    live.add_argument("-q", "--quiet", action="store_true")
    _add_ears_option(live)
    live.set_defaults(run=_live)

    demo = commands.add_parser(
        "demo",
        help="render a built-in sentence with the built-in avatar (no downloads, no GPU)",
        description="Render a short built-in sentence with the built-in avatar to an MP4.",
    )
    demo.add_argument("-o", "--output", type=Path, default=Path("demo.mp4"), help="output MP4 (default demo.mp4)")
    demo.add_argument("-q", "--quiet", action="store_true")
    demo.set_defaults(run=_demo)

    train = commands.add_parser(
        "train-a2m",
        help="train audio2motion on a teacher corpus (resumable)",
        description="Train the audio2motion network on a corpus made by scripts/build_teacher_corpus.py. "
        "Running again with the same output directory resumes from its checkpoint.",
    )
    train.add_argument("corpus", type=Path, nargs="+", help="corpus directories (shard-*.npz), used together")
    train.add_argument("-o", "--output", type=Path, required=True, help="output directory (a2m.pt, checkpoint, log)")
    train.add_argument("--steps", type=int, default=2000)
    train.add_argument("--batch", type=int, default=16)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    train.add_argument("--closure-weight", type=float,
                       help="extra weight of P/B/M steps in the articulation errors (default: TrainConfig's)")
    train.add_argument("--lip-shape-weight", type=float,
                       help="extra weight of rounded and spread vowels' steps there (default: TrainConfig's)")
    train.add_argument("--ears", choices=("mel", "whisper"), default="mel",
                       help="what the network hears: log-mel, or Whisper tiny.en features (the corpus needs "
                       "their sidecars from scripts/whisper_corpus.py)")
    train.add_argument("--live", type=int, nargs=2, metavar=("WINDOW", "HOP"),
                       help="a Whisper head for live sessions, on live windows of WINDOW frames every HOP (20 ms "
                       "frames; sidecars from scripts/whisper_corpus.py --live WINDOW HOP)")
    train.add_argument("--start-from", type=Path,
                       help="a trained a2m.pt of the same shape to start from (e.g. the offline Whisper head, "
                       "tuned here to live windows)")
    train.add_argument("-q", "--quiet", action="store_true")
    train.set_defaults(run=_train_a2m)
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
