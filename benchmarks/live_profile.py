"""Where a loaded server's time goes: py-spy samples ``talkinghead serve`` while N video sessions stream.

    python benchmarks/live_profile.py [--sessions 4] [--seconds 20] [--workers N] [--top 20] [--raw STACKS.txt]

Needs py-spy (``pip install py-spy``; it reads the server's stacks from
outside, so the server runs unmodified). The server and the clients are
those of ``live_concurrency.py`` (real speech at the wall clock's pace,
video + coefficients, look-ahead 100 ms); py-spy samples the server's every
thread at 100 Hz for the middle ``--seconds`` of the run (idle threads
left out). Printed: each thread's share of the samples, then the
functions with the most samples in themselves (self) and under them
(total), as shares of all samples (100% = one core busy for the whole
window).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_latency import RATE, one_run, served  # noqa: E402  (the same client and server)

from talkinghead.contracts.audio_io import load_audio  # noqa: E402
from talkinghead.contracts.resample import resample  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HZ = 100


def summarise(raw: Path, seconds: float, top: int) -> None:
    """py-spy's raw output: one line per distinct stack, ``thread (id): name;function (file:line);... count``."""
    threads: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    under: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        thread, *frames = stack.split(";")
        name = thread.partition(": ")[2] or thread
        threads[re.sub(r"_\d+$", "_N", name)] += int(count)  # pool threads counted together
        functions = []
        for frame in frames:
            match = re.fullmatch(r"(.*) \((.*):(\d+)\)", frame)
            functions.append(f"{match[1]} ({Path(match[2]).name}:{match[3]})" if match else frame)
        if functions:
            own[functions[-1]] += int(count)
            for function in set(functions):
                under[function] += int(count)
    window = seconds * HZ
    print(f"samples: {sum(threads.values())} over {seconds:g} s at {HZ} Hz, busy threads only "
          f"(100% = one core busy the whole time)\n")
    print("| thread | share |\n|---|---|")
    for name, count in threads.most_common(12):
        print(f"| {name} | {100 * count / window:.1f}% |")
    print("\n| function (file:line) | self | total |\n|---|---|---|")
    for name, count in own.most_common(top):
        print(f"| `{name}` | {100 * count / window:.1f}% | {100 * under[name] / window:.1f}% |")


async def main_async(args) -> None:
    samples, rate = load_audio(args.data / "speech" / "intro_en.wav")
    seconds = args.seconds + 10  # 5 s to settle before the window, 5 s after
    pcm = (resample(samples, rate, RATE)[: int(seconds * RATE)] * 32767).astype("<i2")
    most = str(args.sessions)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.txt"
        options = ["--max-sessions", most, "--max-sessions-per-token", most, "--no-load-admission"] + (
            ["--workers", str(args.workers)] if args.workers else [])
        async with served(args.port, *options) as (url, server):
            clients = asyncio.gather(*(one_run(url, np.roll(pcm, 3217 * k), 100, ["video", "coefficients"])
                                       for k in range(args.sessions)))
            await asyncio.sleep(5)
            spy = await asyncio.create_subprocess_exec(
                args.py_spy, "record", "--pid", str(server.pid), "--rate", str(HZ), "--duration", str(round(args.seconds)),
                "--format", "raw", "--output", str(raw), "--threads", "--nonblocking",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            _, error = await spy.communicate()
            runs = await clients
        if spy.returncode != 0:
            raise SystemExit("py-spy failed: " + " | ".join(error.decode().strip().splitlines()[-4:]))
        dropped, frames = sum(r["dropped"] for r in runs), sum(r["frames"] for r in runs)
        p99 = [r["p99"] * 1000 for r in runs]
        print(f"{args.sessions} video sessions: {dropped} of {frames} frames dropped; median p99 "
              f"{np.median(p99):.0f} ms\n")
        summarise(raw, args.seconds, args.top)
        if args.raw:
            shutil.copy(raw, args.raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--workers", type=int, default=None, help="the server's lanes (default: one per core)")
    parser.add_argument("--raw", type=Path, default=None, help="also keep py-spy's raw stacks there")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"))
    args = parser.parse_args()
    if not Path(args.py_spy).exists():
        raise SystemExit("live_profile: needs py-spy (pip install py-spy)")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
