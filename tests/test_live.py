"""Live sessions on an engine: both pacings, interrupts, idle frames, dropped frames, the blocking wrapper."""

import asyncio
import threading
import time
from fractions import Fraction

import numpy as np
import pytest

from talkinghead.contracts.audio_io import load_audio
from talkinghead.contracts.clock import FrameClock
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.frame import Frame
from talkinghead.jobs.render import demo_audio
from talkinghead.streaming.codecs import JpegEncoder
from talkinghead.streaming.live import LiveConfig, SyncSession
from talkinghead.streaming.session import MOUTH


@pytest.fixture(scope="module")
def speech():
    samples, rate = load_audio(demo_audio())
    return samples[: 2 * rate], rate


async def _collect(session, feed):
    producer = asyncio.create_task(feed())
    frames = [frame async for frame in session]
    await producer
    return frames


def test_fast_session_gives_every_frame_with_its_picture_source_and_audio(engine, speech):
    samples, rate = speech

    async def run():
        async with engine.session(sample_rate=rate, config=LiveConfig(pacing="fast", audio=True)) as session:
            async def feed():
                for start in range(0, len(samples), 700):
                    await session.push_audio(samples[start:start + 700])
                await session.end()
            return await _collect(session, feed), session.width_height

    frames, (width, height) = asyncio.run(run())
    assert [f.index for f in frames] == list(range(len(frames)))
    assert len(frames) == FrameClock(rate, Fraction(25)).frames_for(len(samples))  # end(): exactly the clock's count
    assert frames[0].image.shape == (height, width, 3)
    sources = [f.source for f in frames]
    assert sources[0][0] == 0 and sources[-1][1] == len(samples)
    audio = np.concatenate([f.audio for f in frames])
    np.testing.assert_array_equal(audio[: len(samples)], samples)  # each frame carries its own span
    assert not audio[len(samples):].any()


def test_interrupt_continues_the_numbering_and_rests_the_mouth(engine, speech):
    samples, rate = speech

    async def run():
        async with engine.session(sample_rate=rate, config=LiveConfig(video=False)) as session:
            await session.push_audio(samples)  # a burst: frames wait for their time
            frames = []
            async for frame in session:
                frames.append(frame)
                if len(frames) == 20:
                    next_index = await session.interrupt()
                    asyncio.get_running_loop().call_later(0.3, lambda: asyncio.ensure_future(session.end()))
            return frames, next_index

    frames, next_index = asyncio.run(run())
    assert next_index == 20 and len(frames) > 23
    assert [f.index for f in frames] == list(range(len(frames)))
    assert all(f.source is None for f in frames[20:])  # the dropped speech is never shown
    before = frames[19].blendshapes[MOUTH]
    assert np.abs(before).max() > 0.05  # it was speaking
    assert np.abs(frames[22].blendshapes[MOUTH]).max() == 0  # at rest by the 3rd frame
    steps = [np.abs(b.blendshapes[MOUTH] - a.blendshapes[MOUTH]).max() for a, b in zip(frames[19:22], frames[20:23])]
    assert max(steps) <= np.abs(before).max() / 3 + 1e-6  # no jump


def test_realtime_stall_gives_idle_frames_and_a_slow_consumer_loses_frames_by_time(engine, speech):
    samples, rate = speech
    config = LiveConfig(pacing="realtime", video=False, jitter_ms=40, drop_after_ms=120)

    async def run():
        async with engine.session(sample_rate=rate, config=config) as session:
            async def feed():
                await asyncio.sleep(1.0)  # nothing for 1 s: idle frames meanwhile
                for start in range(0, len(samples) // 2, rate // 50):
                    await session.push_audio(samples[start:start + rate // 50])
                    await asyncio.sleep(0.02)
                await session.end()

            producer = asyncio.create_task(feed())
            frames = []
            async for frame in session:
                frames.append(frame)
                if 10 <= len(frames) < 13:
                    await asyncio.sleep(0.4)  # a consumer that stalls
            await producer
            return frames, session.dropped

    frames, dropped = asyncio.run(run())
    indices = [f.index for f in frames]
    assert all(a < b for a, b in zip(indices, indices[1:]))
    assert dropped > 0 and len(frames) + dropped == indices[-1] + 1  # every frame shown or counted as dropped
    assert all(f.source is None for f in frames[:5])  # before the first audio: idle frames
    assert any(f.source is not None for f in frames)


def test_realtime_frames_go_on_after_an_interrupt_that_dropped_many(engine, speech):
    samples, rate = speech
    config = LiveConfig(pacing="realtime", video=False)

    async def run():
        async with engine.session(sample_rate=rate, config=config) as session:
            async def feed():  # the caller keeps talking in real time through the interrupt
                for start in range(0, len(samples), rate // 50):
                    await session.push_audio(samples[start:start + rate // 50])
                    await asyncio.sleep(0.02)
                await session.end()

            producer = asyncio.create_task(feed())
            before, after, next_index = [], [], None
            async for frame in session:
                (before if next_index is None else after).append(frame)
                if len(before) == 10 and next_index is None:
                    await asyncio.sleep(0.4)  # ten frames pile up, then the barge-in drops them
                    next_index = await session.interrupt()
            await producer
            return before, after, next_index, session.dropped

    before, after, next_index, dropped = asyncio.run(run())
    assert after and after[0].index == next_index
    assert dropped < 8 and len(after) > 25  # not every frame after it counted late (its due time ran on)


def test_realtime_frames_leave_when_their_audio_is_in_yet_a_producer_ahead_is_paced(engine, speech):
    samples, rate = speech
    config = LiveConfig(pacing="realtime", video=False, lookahead_ms=40, jitter_ms=150)

    async def run(live: bool):
        loop = asyncio.get_running_loop()
        async with engine.session(sample_rate=rate, config=config) as session:
            async def feed():
                if not live:  # a TTS burst: two seconds at once (and no end() soon: it would hand the rest at once)
                    await session.push_audio(samples)
                    await asyncio.sleep(len(samples) / rate + 0.5)
                for start in range(0, len(samples) if live else 0, rate // 50):
                    await asyncio.sleep(max(0.0, session._start + (start + rate // 50) / rate - loop.time()))
                    await session.push_audio(samples[start:start + rate // 50])
                await session.end()

            producer = asyncio.create_task(feed())
            early = [(session.release(f.index) - loop.time(), session.due(f.index) - loop.time())
                     async for f in session if f.source is not None]
            await producer
            return early

    ahead = asyncio.run(run(live=False))
    assert len(ahead) > 40 and max(before_release for before_release, _ in ahead) < 0.005  # none before its release
    live = asyncio.run(run(live=True))
    before_due = sorted(before_due for _, before_due in live)
    assert before_due[len(before_due) // 2] > 0.075  # not held to the due time: most leave well before it


def test_frames_due_across_sessions_are_drawn_in_one_batch(engine):
    """One drawing tick takes every queued frame: of one avatar, one ``draw_frames`` call; each frame as if alone."""
    renderer = engine.renderer()
    rows = [Frame(k, Fraction(k, 25), np.eye(52, dtype=np.float32)[k + 20] * 0.6, np.zeros(6, np.float32), None)
            for k in range(3)]
    calls = []
    draw_frames = renderer.draw_frames
    gate = threading.Event()

    async def run():
        held = asyncio.ensure_future(engine.lanes[0].compute(gate.wait))  # the worker is busy: the requests queue up
        await asyncio.sleep(0.05)
        drawn = asyncio.gather(*(engine.lanes[0].render(renderer, row, codec=JpegEncoder) for row in rows))
        await asyncio.sleep(0.05)
        gate.set()
        await held
        return await drawn

    renderer.draw_frames = lambda frames: calls.append(len(frames)) or draw_frames(frames)
    try:
        drawn = asyncio.run(run())
    finally:
        del renderer.draw_frames
    assert calls == [3]
    for row, (image, jpeg) in zip(rows, drawn):
        alone = renderer.draw(Coefficients(row.blendshapes[None], row.pose[None], 25, start_frame=row.index))[0]
        assert np.array_equal(image, alone) and jpeg[:2] == b"\xff\xd8"


def test_each_session_draws_its_frames_along_a_sequence_of_its_own(engine, speech):
    """A renderer's per-sequence state (retrieval's smoothed picks) reaches it with every frame of the session
    it belongs to, in the session's order, never another session's."""
    samples, rate = speech
    renderer = engine.renderer()
    made, seen = [], []
    draw_frames = renderer.draw_frames
    renderer.sequence = lambda: made.append(object()) or made[-1]
    renderer.draw_frames = lambda frames: seen.extend((f.sequence, f.index) for f in frames) or draw_frames(frames)

    async def one():
        async with engine.session(sample_rate=rate, config=LiveConfig(pacing="fast")) as session:
            async def feed():
                await session.push_audio(samples[: rate // 2])
                await session.end()
            return await _collect(session, feed)

    async def run():
        return await asyncio.gather(one(), one())

    try:
        outputs = asyncio.run(run())
    finally:
        del renderer.sequence, renderer.draw_frames
    assert len(made) == 2 and all(len(frames) > 5 for frames in outputs)
    for sequence in made:
        indices = [index for owner, index in seen if owner is sequence]
        assert indices == list(range(len(indices))) and len(indices) == len(outputs[0])
    assert all(frame.sequence is None for frames in outputs for frame in frames)  # the state stays inside


def test_sync_session_and_limits(engine, speech):
    samples, rate = speech
    session = SyncSession(engine, sample_rate=rate, config=LiveConfig(pacing="fast", video=False))
    try:
        with pytest.raises(ValueError, match="44100"):
            session.push_audio(samples, 44100)
        session.push_audio(samples[:rate])
        session.end()
        frames = list(session.frames())
        assert [f.index for f in frames] == list(range(25))
    finally:
        session.close()
    with pytest.raises(ValueError, match="unknown avatar"):
        engine.session("nobody")
    held = [engine.session() for _ in range(engine.max_sessions - engine.sessions)]
    with pytest.raises(ValueError, match="session limit"):
        engine.session()
    for session in held:
        asyncio.run(session.close())
    assert engine.sessions == 0


def test_a_session_closed_while_waiting_for_its_tick_does_not_hold_up_the_others(engine):
    async def run():
        blocker = asyncio.ensure_future(engine.lanes[0].compute(time.sleep, 0.3))  # the next tick gathers both requests
        await asyncio.sleep(0.05)
        gone = asyncio.ensure_future(engine.lanes[0].advance(lambda: "gone"))
        kept = asyncio.ensure_future(engine.lanes[0].advance(lambda: "kept"))
        await asyncio.sleep(0)
        gone.cancel()  # what closing a session does to its pending tick
        await blocker
        return await asyncio.wait_for(kept, 5)

    assert asyncio.run(run()) == "kept"
