"""Live sessions: audio pushed in any chunking, frames out, paced by the audio clock, many sessions per engine.

An :class:`Engine` holds what sessions share: audio2motion, the avatars and
their renderers, and its lanes (one worker thread per core). A :class:`Session` wraps a
:class:`talkinghead.streaming.session.SessionCore` (the exact frame clock)
with a pacer:

- ``realtime``: frame ``k`` leaves as soon as its audio is in and it is
  drawn, but not before ``start + (k + 1) / fps + lookahead`` (when a
  live producer's audio for it arrives at the earliest), so a producer
  that runs ahead of the clock is still paced by it. It is *due* the
  jitter budget later: if its audio has not come by then (a stalled
  producer), the session inserts silence: idle frames (closed mouth,
  blinks, head motion). Frames the consumer has not taken
  ``drop_after_ms`` after they were due are dropped and counted, never
  re-timed.
- ``fast``: every frame as soon as its audio is in (files, TTS bursts);
  a consumer that falls behind holds the session back instead of losing frames.

A session's model and drawing work runs on the worker thread of its
:class:`Lane` (:mod:`talkinghead.streaming.worker`), in ticks: one runs
the clock work queued by then across the lane's sessions (their
audio2motion calls batched), another draws the frames queued by then (each
avatar's in one batch). The heavy parts (torch, numba, the codecs, the
Whisper encoder) release the GIL, so lanes use the machine's cores side by
side; a new session goes on the lane with the least measured work.
Realtime sessions' ticks go before fast ones', and a fast session's drawing
tick holds one frame, so a file streamed as fast as possible cannot starve
a live caller.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
import math
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from talkinghead.audio2motion.ears import AUTO, choose_ears, whisper_installed
from talkinghead.audio2motion.model import (
    Audio2Motion,
    check_calibrated_on,
    from_checkpoint,
    load_model,
)
from talkinghead.audio2motion.motion import MotionConfig
from talkinghead.contracts.audio_io import FEATURE_RATE, caller_pcm
from talkinghead.contracts.clock import as_fraction
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.frame import Frame
from talkinghead.contracts.renderer import Renderer
from talkinghead.streaming.session import SessionConfig, SessionCore
from talkinghead.streaming.step_batch import StepBatcher
from talkinghead.streaming.worker import BULK, LIVE, PriorityWorker

PACINGS = ("realtime", "fast")
Codec = Callable[[int, int], Callable[[np.ndarray], bytes]]  # (width, height) -> encoder of RGB pictures
DRAW_BATCH = 8  # most frames of realtime sessions one drawing job takes (bounds its memory and duration)
LOAD_WINDOW = 3.0  # seconds over which a lane's load is measured
# Cores a session (with video, without) is assumed to cost until one of its kind has run for LOAD_WINDOW: the
# 2-core CPU's figures (benchmarks/RESULTS.md, issue 26), priors only; measured costs replace them.
NEW_SESSION_COST = {True: 0.45, False: 0.15}
# A lane admits a session while its sessions' measured cost, with it, stays under this share of a core: the rest
# of a core goes to what is not charged to sessions (the event loop and sockets, the GIL's hand-offs, the Whisper
# and step threads). Set where this 2-core CPU's measured capacity is (benchmarks/RESULTS.md, issue 26): 2 video
# or 10 coefficient sessions hold, 3 or 12 do not.
ADMIT_BELOW = 0.6


@dataclass(frozen=True)
class LiveConfig:
    fps: Fraction = Fraction(25)
    lookahead_ms: int = 100
    pacing: str = "realtime"
    video: bool = True  # draw frames (False: coefficients only)
    audio: bool = False  # each frame carries the audio it spans (for clients that do not hold it)
    jitter_ms: int = 50  # realtime: how late audio may come before idle frames are inserted
    drop_after_ms: int = 200  # realtime: a frame not taken this long after it was due is dropped
    max_queued_seconds: float = 30.0  # caller audio a session may hold unprocessed
    batch: int = 4  # most frames one tick takes from the clock (each is drawn in a job of its own)
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "fps", as_fraction(self.fps, "fps"))
        if self.pacing not in PACINGS:
            raise ValueError(f"pacing must be one of {', '.join(PACINGS)}, got {self.pacing!r}")
        if self.jitter_ms < 0 or self.drop_after_ms <= 0 or self.max_queued_seconds <= 0:
            raise ValueError("jitter_ms must be >= 0, drop_after_ms and max_queued_seconds positive")


class Engine:
    """Shared models and avatars for many sessions; ``avatars`` maps names to bundle directories."""

    def __init__(self, avatars: Mapping[str, str | Path] | None = None, default: str | None = None,
                 backend: str = "torch", device: str = "cpu", max_sessions: int = 16,
                 threads: tuple[int, int] = (1, 1), batch_steps: bool = True, ears: str = AUTO,
                 workers: int | None = None) -> None:
        """``workers``: worker threads (lanes), each running the model and drawing work of the sessions placed
        on it (default: one per core the process may use). Torch, numba, the codecs and the Whisper encoder
        release the GIL, so lanes draw on several cores at once; a session stays on its lane.
        ``threads``: torch's threads on a worker for (audio2motion, drawing). The network's small
        per-frame steps run fastest on one thread (a second one's spin-waiting costs more than it
        gives). Drawing gains about 15% from a second thread on a quiet 2-core CPU, but loses 40% when
        another process wants a core (a meeting app, a browser, VP8 encoding): one by default.
        ``device`` (cpu or cuda): where audio2motion and a standard video avatar's network run; the rest of
        drawing (warping, the photo avatar) runs on the CPU either way.
        ``batch_steps``: batch audio2motion across the sessions of a tick (False: one call per session).
        ``ears``: what sessions hear with (``auto``: Whisper's live head where the extra is installed, else
        mel); an avatar calibrated on the other ears' model streams with that one."""
        self._paths = {name: Path(path) for name, path in (avatars or {}).items()}
        self.default = default or (next(iter(self._paths)) if self._paths else "default")
        if self.default != "default" and self.default not in self._paths:
            raise ValueError(f"default avatar {self.default!r} is not among {sorted(self._paths)}")
        self.backend, self.device, self.max_sessions = backend, device, max_sessions
        self._live_models: dict[str, Audio2Motion] = {}  # the shipped live model per ears, as loaded
        self.model = self._live_model(choose_ears(ears))
        self._renderers: dict[str, Renderer] = {}
        self._motion_models: dict[int, Audio2Motion] = {}  # by id of the renderer whose avatar needs another
        self._sessions: set[Session] = set()
        count = workers if workers is not None else default_workers()
        if count < 1:
            raise ValueError(f"workers must be at least 1, got {count}")
        self.lanes = [Lane(k, max_sessions if batch_steps else 1, threads) for k in range(count)]
        self._lock = threading.Lock()

    @property
    def avatar_names(self) -> list[str]:
        """The avatars sessions may ask for: the given ones and the built-in ``default``."""
        return sorted({"default", *self._paths})

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    def renderer(self, name: str | None = None) -> Renderer:
        """The shared renderer of avatar ``name`` (loaded once, with its own audio2motion if it has one)."""
        from talkinghead.renderer.avatar import avatar_renderer, load_avatar

        name = name or self.default
        with self._lock:
            if name not in self._renderers:
                if name != "default" and name not in self._paths:
                    raise ValueError(f"unknown avatar {name!r}; choose from {', '.join(self.avatar_names)}")
                renderer = avatar_renderer(load_avatar(self._paths.get(name), self.backend, self.device))
                renderer.draw(Coefficients.zeros(1, 25))  # warm-up
                weights = renderer.motion_weights
                if weights is not None:
                    self._motion_models[id(renderer)] = from_checkpoint(weights, f"avatar {name}'s audio2motion",
                                                                        self.device)
                elif renderer.calibrated_on is not None:
                    model = self._live_model(renderer.calibrated_on.partition(":")[0])
                    check_calibrated_on(model, renderer.calibrated_on, f"avatar {name}",
                                        "live sessions stream with the shipped live heads: re-enroll it")
                    if model is not self.model:
                        self._motion_models[id(renderer)] = model
                self._renderers[name] = renderer
            return self._renderers[name]

    def session(self, avatar: str | None = None, sample_rate: int = 16000, config: LiveConfig = LiveConfig(),
                codec: Codec | None = None) -> Session:
        """Open a session (use ``async with``, or call :meth:`Session.start` and :meth:`Session.close`).

        ``codec``: the transport's picture codec (e.g. :class:`talkinghead.streaming.codecs.JpegEncoder`),
        run on the worker after drawing; each frame then carries its ``encoded`` bytes. The session goes on
        the lane with the least work (:meth:`Lane.load`), measured."""
        if len(self._sessions) >= self.max_sessions:
            raise ValueError(f"session limit reached ({self.max_sessions})")
        renderer = self.renderer(avatar)
        lane = self._least_loaded()
        session = Session(self, lane, renderer, sample_rate, config, codec)
        self._sessions.add(session)
        lane.sessions.add(session)
        return session

    def _live_model(self, ears: str) -> Audio2Motion:
        """The shipped live model of ``ears`` (loaded once)."""
        if ears not in self._live_models:
            if ears == "whisper" and not whisper_installed():
                raise ValueError("live sessions with Whisper ears need the `whisper` extra (pip install "
                                 "'talkinghead[whisper]'); or use --ears mel (and avatars enrolled with --ears mel)")
            self._live_models[ears] = load_model(ears=ears, live=True, device=self.device)
            _warm_up(self._live_models[ears])
        return self._live_models[ears]

    def motion_model(self, renderer: Renderer) -> Audio2Motion:
        """The audio2motion that drives ``renderer``: its avatar's own, else the engine's."""
        return self._motion_models.get(id(renderer), self.model)

    def session_cost(self, video: bool) -> float:
        """What one more session (with or without video) is expected to cost, in cores: the mean measured cost
        of the settled sessions of its kind, ``NEW_SESSION_COST`` before any has settled."""
        costs = [s.cost() for s in self._sessions if s.config.video == video and s.age() >= LOAD_WINDOW]
        return sum(costs) / len(costs) if costs else NEW_SESSION_COST[video]

    def _least_loaded(self) -> Lane:
        return min(self.lanes, key=lambda lane: (lane.load(self.session_cost), len(lane.sessions)))

    def admits(self, video: bool) -> bool:
        """Whether the measured spare capacity carries one more session of this kind: its lane (the least
        loaded) stays under ``ADMIT_BELOW`` of a core with it."""
        return self._least_loaded().load(self.session_cost) + self.session_cost(video) <= ADMIT_BELOW

    def capacity(self, video: bool) -> int:
        """How many more sessions of this kind the measured spare capacity carries (each lane's room, whole)."""
        cost = self.session_cost(video)
        return sum(max(0, math.floor((ADMIT_BELOW - lane.load(self.session_cost)) / cost + 1e-9))
                   for lane in self.lanes)

    def _closed(self, session: Session) -> None:
        self._sessions.discard(session)
        session.lane.closed(session)

    def close(self) -> None:
        for lane in self.lanes:
            lane.shutdown()


def default_workers() -> int:
    """One lane per core this process may run on (its CPU affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _charge(payers: list[Session | None], seconds: float) -> None:
    """A job's time, charged to the sessions it served in equal shares."""
    for payer in payers:
        if payer is not None:
            payer.work_seconds += seconds / len(payers)


class Lane:
    """One worker thread and what the sessions placed on it share there: ticks that batch their audio2motion
    calls (:mod:`.step_batch`) and their drawing, and the codecs' encoders. An engine has one per core."""

    def __init__(self, index: int, batch_limit: int, threads: tuple[int, int]) -> None:
        self.sessions: set[Session] = set()
        self._worker = PriorityWorker(f"talkinghead-worker-{index}", LOAD_WINDOW)
        self._batcher = StepBatcher(batch_limit)  # a limit of 1: one job a round, nothing batches
        self._ticks: dict[int, list[tuple[Future, tuple]]] = {LIVE: [], BULK: []}  # clock work, per priority
        self._draws: dict[int, list[tuple[Future, tuple]]] = {LIVE: [], BULK: []}  # frames to draw
        self._ticks_lock = threading.Lock()
        self._encoders: dict[tuple[Codec, int, int], Callable[[np.ndarray], bytes]] = {}  # on the worker only
        self._threads = threads
        self._worker.submit(torch.set_num_threads, threads[0]).result()

    def busy(self) -> float:
        """The share of the last ``LOAD_WINDOW`` seconds this lane's worker was busy (measured, 0 to 1)."""
        return self._worker.busy_share()

    def load(self, expected: Callable[[bool], float]) -> float:
        """The work of the sessions this lane holds (cores): each one's measured cost, or ``expected(video)``
        while it is too new to have one (the engine places new sessions by it, so sessions that come at once
        spread; work of sessions that have closed does not count, unlike :meth:`busy`)."""
        return sum(session.cost() if session.age() >= LOAD_WINDOW else expected(session.config.video)
                   for session in list(self.sessions))

    async def compute(self, function, *args, live: bool = True):
        """Run ``function(*args)`` on the worker thread (where all model and drawing work happens);
        ``live`` jobs (realtime sessions) go before the others."""
        return await asyncio.wrap_future(self._worker.submit(function, *args, priority=LIVE if live else BULK))

    async def advance(self, function, *args, live: bool = True, payer: Session | None = None):
        """Run a session's clock work ``function(*args)`` in the next tick on the worker: a tick takes every
        session's request queued by then and batches their audio2motion calls (:mod:`.step_batch`). The
        tick's time is charged to its ``payer`` sessions in equal shares."""
        return await self._in_tick(self._ticks, self._tick, (function, args, payer), live)

    async def render(self, renderer: Renderer, row: Frame, codec: Codec | None = None,
                     live: bool = True, payer: Session | None = None) -> tuple[np.ndarray, bytes | None]:
        """Draw a frame (and encode it with ``codec``) in the next drawing tick on the worker: a tick draws the
        frames queued by then, each avatar's in one batch (:meth:`_draw_tick`), its time charged to the
        frames' ``payer`` sessions in equal shares."""
        return await self._in_tick(self._draws, self._draw_tick, (renderer, row, codec, payer), live)

    async def _in_tick(self, queues: dict[int, list], run: Callable[[int], None], request: tuple, live: bool):
        """Queue ``request`` for the next ``run`` job of its priority (the first request submits the job;
        later ones join it until it starts); its outcome."""
        priority = LIVE if live else BULK
        outcome: Future = Future()
        with self._ticks_lock:
            queue = queues[priority]
            queue.append((outcome, request))
            first = len(queue) == 1
        if first:
            self._worker.submit(run, priority, priority=priority)
        return await asyncio.wrap_future(outcome)

    def _take(self, queues: dict[int, list], run: Callable[[int], None], priority: int,
              most: int | None = None) -> list[tuple[Future, tuple]]:
        """Up to ``most`` queued requests of ``priority`` (the rest get a ``run`` job of their own), those still
        wanted: a session closed while waiting cancelled its request (from here on none can be cancelled)."""
        with self._ticks_lock:
            queue = queues[priority]
            taken, queues[priority] = queue[:most], queue[len(queue) if most is None else most:]
            if queues[priority]:
                self._worker.submit(run, priority, priority=priority)
        return [(outcome, request) for outcome, request in taken if outcome.set_running_or_notify_cancel()]

    def _tick(self, priority: int) -> None:
        requests = self._take(self._ticks, self._tick, priority)
        started = time.perf_counter()
        outcomes = self._batcher.run_together([functools.partial(f, *args) for _, (f, args, _) in requests])
        _charge([payer for _, (_, _, payer) in requests], time.perf_counter() - started)
        for (request, _), outcome in zip(requests, outcomes):
            error = outcome.exception()
            request.set_exception(error) if error is not None else request.set_result(outcome.result())

    def _draw_tick(self, priority: int) -> None:
        """Draw the queued frames, each avatar's in one batch: at most ``DRAW_BATCH`` frames for realtime
        sessions, one for bulk ones (a live job then waits at most one frame's drawing behind them)."""
        requests = self._take(self._draws, self._draw_tick, priority, DRAW_BATCH if priority == LIVE else 1)
        by_avatar: dict[int, list[tuple[Future, tuple]]] = {}
        for outcome, request in requests:
            by_avatar.setdefault(id(request[0]), []).append((outcome, request))
        for group in by_avatar.values():
            renderer = group[0][1][0]
            rows = [row for _, (_, row, _, _) in group]
            codecs = [codec for _, (_, _, codec, _) in group]
            started = time.perf_counter()
            try:
                drawn = self._draw(renderer, rows, codecs)
            except Exception as error:  # each session of the group hears of it; the others are drawn
                for outcome, _ in group:
                    outcome.set_exception(error)
                continue
            finally:
                _charge([payer for _, (_, _, _, payer) in group], time.perf_counter() - started)
            for (outcome, _), frame in zip(group, drawn):
                outcome.set_result(frame)

    def _draw(self, renderer: Renderer, rows: list[Frame],
              codecs: list[Codec | None]) -> list[tuple[np.ndarray, bytes | None]]:
        torch.set_num_threads(self._threads[1])
        try:
            images = renderer.draw_frames(rows)
        finally:
            torch.set_num_threads(self._threads[0])
        return [(image, None if codec is None else self._encode(codec, image)) for image, codec in zip(images, codecs)]

    def _encode(self, codec: Codec, image: np.ndarray) -> bytes:
        height, width = image.shape[:2]
        if (codec, width, height) not in self._encoders:
            self._encoders[codec, width, height] = codec(width, height)
        return self._encoders[codec, width, height](image)

    def motion_network(self, network):
        """``network`` as this lane's sessions use it: its calls batched across the sessions of a tick."""
        return self._batcher.network(network)

    def whisper_encoder(self):
        """The Whisper encoder as this lane's sessions use it: windows batched across the sessions of a tick."""
        from talkinghead.audio2motion.whisper import shared_encoder

        return self._batcher.encoder(shared_encoder())

    def closed(self, session: Session) -> None:
        self.sessions.discard(session)
        with contextlib.suppress(RuntimeError):  # the engine is already closed: nothing to give back
            self._worker.submit(_release_memory, priority=BULK)  # after the pending jobs

    def shutdown(self) -> None:
        self._worker.shutdown()
        self._batcher.shutdown()


def limit_malloc_arenas(count: int = 2) -> None:
    """Cap glibc's malloc arenas, for a server process (a process-wide choice, so not made by the engine
    itself): by default every thread that allocates gets an arena of its own, freed frames stay scattered
    over them, and a server's memory drifts up session after session (measured: ``live_hostile.py``)."""
    _call_libc("mallopt", -8, count)  # -8: M_ARENA_MAX


def _release_memory() -> None:
    """Give freed heap back to the system (glibc keeps it per thread arena otherwise; the worker's arena
    holds the drawn frames), so a server's memory returns to its baseline when sessions end."""
    _call_libc("malloc_trim", 0)


def _call_libc(function: str, *args: int) -> None:
    """A glibc allocator call; nothing where there is no glibc (macOS, Windows, musl)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name:
        with contextlib.suppress(OSError, AttributeError):
            getattr(ctypes.CDLL(name), function)(*args)


def _warm_up(model) -> None:
    """Run the network once, so the first session's first frames do not wait for torch's first-call set-up."""
    from talkinghead.audio2motion.animate import animate

    animate(model, np.zeros(FEATURE_RATE, np.float32), FEATURE_RATE, 25, 100)


class Session:
    """One live stream; push audio, iterate frames (``async for frame in session``).

    Everything that touches the session's clock (and so the model) runs on
    its lane's worker thread, one job at a time across that lane's sessions:
    the event loop stays free for the network.
    """

    def __init__(self, engine: Engine, lane: Lane, renderer: Renderer, sample_rate: int, config: LiveConfig,
                 codec: Codec | None = None) -> None:
        self.engine, self.lane, self.renderer, self.config, self.codec = engine, lane, renderer, config, codec
        self._opened = time.monotonic()
        self.work_seconds = 0.0  # worker time spent on this session (its shares of ticks and drawing jobs)
        self._sequence = renderer.sequence() if config.video else None  # the renderer's state along this session
        motion = MotionConfig.from_knobs(config.lookahead_ms, renderer.idle_motion)
        model = lane.motion_network(engine.motion_model(renderer))
        encoder = lane.whisper_encoder() if model.config.ears == "whisper" else None
        self.core = SessionCore(model, sample_rate, SessionConfig(config.fps, config.lookahead_ms, motion, config.seed,
                                                                   keep_audio=config.audio), encoder)
        self.dropped = 0
        self.frames_out = 0
        self._out: asyncio.Queue[tuple[Frame, float] | None] = asyncio.Queue(
            maxsize=0 if config.pacing == "realtime" else 8)
        self._wake = asyncio.Event()
        self._ended = False
        self._flush = False
        self._task: asyncio.Task | None = None
        self._start = 0.0
        self._step = Fraction(1) / config.fps
        self._delay = self._step + Fraction(config.lookahead_ms + config.jitter_ms, 1000)
        self._error: BaseException | None = None
        self._shown: Frame | None = None  # the last frame the consumer took
        self._epoch = 0  # interrupts so far
        self._shift = 0  # realtime: frames of wall clock that interrupts dropped (see :meth:`interrupt`)
        self._draw_seconds = 0.0  # a drawing job's wall time (running mean), queueing on the worker included
        self._in_flight = 0  # frames taken from the clock, not yet queued for the consumer
        # frames the worker took from the clock / that a delivery claimed: an advance in flight across an
        # interrupt took frames nobody will deliver, which the interrupt must count as returned
        self._taken_total = 0  # written on the worker only
        self._claimed_total = 0
        self._last_audio = float("-inf")  # when audio last came (event-loop time)
        self._waiting = False  # realtime: the next frame may start drawing but waits for its audio
        self._inbox: collections.deque[np.ndarray] = collections.deque()  # pushed audio the worker has not taken in
        self._received = 0  # samples pushed (written on the event loop only)
        self._taken_in = 0  # samples the worker took from the inbox (written on the worker only)
        self._completes_at = 0  # realtime: once this many samples are pushed, the next frame can be final
        self._live = config.pacing == "realtime"  # its work goes before fast sessions' on the worker

    @property
    def sample_rate(self) -> int:
        return self.core.sample_rate

    def age(self) -> float:
        """Seconds since the session was opened."""
        return time.monotonic() - self._opened

    def cost(self) -> float:
        """The cores this session has kept busy on average (its worker time over its age, at least
        ``LOAD_WINDOW``)."""
        return self.work_seconds / max(self.age(), LOAD_WINDOW)

    @property
    def ears(self) -> str:
        return self.core.ears

    @property
    def width_height(self) -> tuple[int, int]:
        height, width = self.renderer.size
        return width, height

    async def __aenter__(self) -> Session:
        self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def start(self) -> None:
        self._start = asyncio.get_running_loop().time()
        self._task = asyncio.create_task(self._run())

    def due(self, index: int) -> float:
        """Realtime: when frame ``index`` is due (event-loop time): idle frames fill in if its audio has not come
        by then, and it is dropped if the consumer has not taken it ``drop_after_ms`` later."""
        return self._start + float((index + self._shift) * self._step + self._delay)

    def release(self, index: int) -> float:
        """Realtime: the earliest frame ``index`` leaves (event-loop time), the jitter budget before it is due."""
        return self.due(index) - self.config.jitter_ms / 1000

    def last_due(self, time: float) -> int:
        """Realtime: the last frame due by ``time`` (the inverse of :meth:`due`)."""
        return math.floor((time - self._start - float(self._delay)) / float(self._step)) - self._shift

    async def push_audio(self, pcm: np.ndarray, sample_rate: int | None = None) -> None:
        """Queue caller audio at the session's rate (int16, or float in [-1, 1]).

        It waits in the session's inbox, not behind the worker's drawing: the next tick takes it in."""
        if sample_rate is not None and sample_rate != self.sample_rate:
            raise ValueError(f"this session takes {self.sample_rate} Hz audio, got {sample_rate} Hz")
        if self._ended:
            raise ValueError("push_audio after end()")
        pcm = caller_pcm(pcm)
        queued = self.core.pending_samples + self._received - self._taken_in + len(pcm)
        if queued > self.config.max_queued_seconds * self.sample_rate:
            raise ValueError(f"more than {self.config.max_queued_seconds:g} s of audio queued; push at most in real time")
        self._inbox.append(pcm)
        self._received += len(pcm)
        self._last_audio = asyncio.get_running_loop().time()
        # realtime wakes only for the message that completes the frame it waits for: one model call a frame,
        # not one a message (20 ms messages would double the cost)
        if self.config.pacing == "fast" or (self._waiting and self._received >= self._completes_at):
            self._wake.set()

    def _take_in(self, until: int | None = None) -> None:
        """On the worker: move the inbox's audio into the clock (up to ``until`` samples received, dropping
        it instead: an interrupt's cut)."""
        while self._inbox and (until is None or self._taken_in < until):
            pcm = self._inbox.popleft()
            self._taken_in += len(pcm)
            if until is None:
                self.core.push(pcm)

    async def flush(self) -> None:
        """End an utterance: its tail is drawn, the session stays open."""
        self._flush = True
        self._wake.set()

    async def interrupt(self) -> int:
        """Barge-in: queued audio and frames not yet taken are dropped; returns the next frame's index."""
        returned = self._in_flight
        while not self._out.empty():
            returned += self._out.get_nowait() is not None
        self._epoch += 1  # a delivery under way stops: its frames are among the returned
        self._in_flight = 0
        index = await self.lane.compute(self._interrupt, self._received, returned, self._shown, live=self._live)
        # Session indices go on from the first dropped frame. Where those frames were already due (a consumer
        # that fell behind), the wall clock has moved past them: later frames are due that much later.
        late = asyncio.get_running_loop().time() - self.due(index)
        if late > 0:
            self._shift += math.ceil(late / float(self._step))
        self._wake.set()
        return index

    def _interrupt(self, cut: int, returned: int, shown: Frame | None) -> int:
        self._take_in(until=cut)  # audio pushed before the interrupt is dropped; any after it stays
        unclaimed, self._claimed_total = self._taken_total - self._claimed_total, self._taken_total
        return self.core.interrupt(returned + unclaimed, shown)

    async def end(self) -> None:
        """End the session: the rest is drawn, then iteration stops."""
        self._ended = True
        self._wake.set()

    async def close(self) -> None:
        """Stop at once (nothing more is drawn) and free the session; an iteration under way ends."""
        self._ended = True
        self._wake.set()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            while not self._out.empty():  # what the consumer never took is dropped: the iteration ends now
                self._out.get_nowait()
            self._out.put_nowait(None)
        self.engine._closed(self)

    def __aiter__(self) -> AsyncIterator[Frame]:
        return self

    async def __anext__(self) -> Frame:
        item = await self._out.get()
        if item is None:
            if self._error is not None:
                raise self._error
            raise StopAsyncIteration
        frame = item[0]
        self._shown = dataclasses.replace(frame, image=None, encoded=None)
        return frame

    async def _run(self) -> None:
        try:
            await (self._run_fast() if self.config.pacing == "fast" else self._run_realtime())
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the consumer hears of it; other sessions go on
            self._error = error
        await self._out.put(None)

    async def _run_fast(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            flush, self._flush, ended = self._flush, False, self._ended
            epoch = self._epoch
            rows, _, _ = await self.lane.advance(self._advance, flush, ended, None, 0.0, False, live=False, payer=self)
            await self._deliver(rows, epoch, on_time=False)
            if self.core.ready:  # more than one batch was ready: go round again at once
                self._wake.set()
            elif ended:
                return

    async def _run_realtime(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            flush, self._flush, ended = self._flush, False, self._ended
            now = loop.time()
            quiet = now - self._last_audio > self.config.jitter_ms / 1000 + float(self._step)
            ahead = 1.5 * self._draw_seconds  # start drawing that early, so frames are ready when due
            epoch = self._epoch
            rows, upcoming, late = await self.lane.advance(
                self._advance, flush, ended, None if ended else now, ahead, quiet, payer=self)
            self.dropped += late
            await self._deliver(rows, epoch, on_time=not ended)
            if ended:
                if not self.core.ready:
                    return
                continue  # the rest, a batch at a time
            # next tick: when the next frame may start drawing; if that has passed, at once if it is final (the
            # session is catching up), else when the audio that completes it comes, or when it is due (then
            # every half frame: idle frames once the producer is quiet)
            wait = self.release(upcoming) - ahead - loop.time()
            self._waiting = wait <= 0 and not self.core.ready
            if self._waiting:
                wait = max(self.due(upcoming) - loop.time(), float(self._step) / 2)
            elif wait <= 0:
                wait = 0.0
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            self._waiting = False

    def _advance(self, flush: bool, ended: bool, now: float | None, ahead: float,
                 quiet: bool) -> tuple[list[Frame], int, int]:
        """On the worker: feed the audio, honour flush and end, insert idle frames for the frames due by
        ``now`` when the producer stalled (realtime, ``quiet``), and take the final frames released within
        one frame plus ``ahead`` of ``now`` (all with None). Returns them, the next frame's index, and how
        many were dropped for being ``drop_after_ms`` late already (the session could not keep up: not drawn)."""
        until = None if now is None else now + float(self._step) + ahead
        core = self.core
        if not core.closed:
            self._take_in()
            if until is None or flush or ended:
                core.feed()
            else:  # a burst's audio is fed as its frames come due, not all in one tick
                core.feed_ahead(max(0, self.last_due(until + self.config.jitter_ms / 1000) + 1 - core.next_index)
                                + self.config.batch)
            if flush:
                core.flush()
            if ended:
                core.end()
        upcoming = core.ready[0].index if core.ready else core.next_index
        if until is not None and quiet and not core.ready:
            overdue = self.last_due(now)
            if overdue >= upcoming:  # every frame due by now at once: a session that fell behind catches up
                core.idle_until(overdue + 1)
        taken, late = [], 0
        too_late = None if now is None else now - self.config.drop_after_ms / 1000
        while core.ready and len(taken) < self.config.batch and (until is None or self.release(core.ready[0].index) <= until):
            frame = core.take()
            if too_late is not None and self.due(frame.index) < too_late:
                late += 1
            else:
                taken.append(frame)
        self._completes_at = self._taken_in + core.audio_short()
        self._taken_total += len(taken)  # (late ones are counted as dropped, never claimed)
        return taken, core.ready[0].index if core.ready else core.next_index, late

    async def _deliver(self, rows: list[Frame], epoch: int, on_time: bool) -> None:
        """Draw ``rows`` and queue them for the consumer (``on_time``: each not before its release); rows taken
        before an interrupt (``epoch`` is the interrupts there had been) are dropped: the interrupt counted them."""
        if not rows or self._epoch != epoch:
            return
        self._claimed_total += len(rows)
        self._in_flight = len(rows)
        loop = asyncio.get_running_loop()
        for row in rows:
            image, encoded = None, None
            if self.config.video:
                started = loop.time()
                drawn = dataclasses.replace(row, sequence=self._sequence)
                image, encoded = await self.lane.render(self.renderer, drawn, self.codec, self._live, self)
                self._draw_seconds = 0.8 * self._draw_seconds + 0.2 * (loop.time() - started)
            if on_time and self._epoch == epoch:
                await asyncio.sleep(max(0.0, self.release(row.index) - loop.time()))
            if self._epoch != epoch:  # interrupted: this frame and the rest were counted as returned
                return
            if self.config.pacing == "realtime":
                self._drop_stale(loop.time() - self.config.drop_after_ms / 1000)
            frame = dataclasses.replace(row, image=image, encoded=encoded)
            await self._out.put((frame, loop.time()))
            if self._epoch != epoch:  # interrupted while waiting for room: this frame was counted as returned
                self._out.get_nowait()  # and it is the only one queued since
                return
            self._in_flight -= 1
            self.frames_out += 1
            await asyncio.sleep(0)  # let the consumer take it

    def _drop_stale(self, before: float) -> None:
        """Realtime: frames the consumer has left queued since before ``before`` are dropped and counted."""
        kept = []
        while not self._out.empty():
            item = self._out.get_nowait()
            if item is not None and item[1] < before:
                self.dropped += 1
            else:
                kept.append(item)
        for item in kept:
            self._out.put_nowait(item)


class SyncSession:
    """A thread-safe, blocking face of a :class:`Session`, on an event loop of its own thread."""

    def __init__(self, engine: Engine, avatar: str | None = None, sample_rate: int = 16000,
                 config: LiveConfig = LiveConfig()) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="talkinghead-session")
        self._thread.start()
        self._session = self._call(self._open(engine, avatar, sample_rate, config))

    async def _open(self, engine, avatar, sample_rate, config) -> Session:
        session = engine.session(avatar, sample_rate, config)
        session.start()
        return session

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    @property
    def fps(self) -> Fraction:
        return self._session.config.fps

    def push_audio(self, pcm: np.ndarray, sample_rate: int | None = None) -> None:
        self._call(self._session.push_audio(pcm, sample_rate))

    def flush(self) -> None:
        self._call(self._session.flush())

    def interrupt(self) -> int:
        return self._call(self._session.interrupt())

    def end(self) -> None:
        self._call(self._session.end())

    def frames(self) -> Iterator[Frame]:
        """Frames as they come, until the session ends."""
        while True:
            try:
                yield self._call(self._session.__anext__())
            except StopAsyncIteration:
                return

    def close(self) -> None:
        self._call(self._session.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
