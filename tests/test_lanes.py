"""Lanes (one worker thread per core): sessions spread by measured load, their cost measured, admission by it."""

import asyncio
import json
import time
import urllib.request

import numpy as np
import pytest
from servers import with_server
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from talkinghead.streaming import live
from talkinghead.streaming.live import Engine, LiveConfig


@pytest.fixture(scope="module")
def two_lanes():
    engine = Engine(max_sessions=8, workers=2, ears="mel")
    yield engine
    engine.close()


async def speak(session, seconds: float) -> int:
    """Push ``seconds`` of noise at real-time pace in 40 ms chunks, then end; the frames that came."""
    async def produce():
        rng = np.random.default_rng(0)
        start = time.monotonic()
        for k in range(int(seconds * 25)):
            await asyncio.sleep(max(0.0, start + k * 0.04 - time.monotonic()))
            await session.push_audio((rng.normal(0, 3000, 640)).astype(np.int16))
        await session.end()

    producer = asyncio.create_task(produce())
    frames = [frame async for frame in session]
    await producer
    return len(frames)


def test_sessions_that_come_at_once_spread_over_the_lanes_and_both_lanes_work(two_lanes):
    sessions = [two_lanes.session(None, 16000, LiveConfig()) for _ in range(4)]
    placed = [two_lanes.lanes.index(s.lane) for s in sessions]
    assert sorted(placed) == [0, 0, 1, 1]  # no measurement yet: each new one goes where the expected load is least

    async def run():
        for s in sessions:
            s.start()
        counts = await asyncio.gather(*(speak(s, 2.0) for s in sessions))
        for s in sessions:
            await s.close()
        return counts

    counts = asyncio.run(run())
    assert all(c >= 45 for c in counts)
    assert all(lane.busy() > 0.05 for lane in two_lanes.lanes)  # both workers drew
    assert two_lanes.sessions == 0 and all(not lane.sessions for lane in two_lanes.lanes)


def test_a_sessions_cost_is_its_share_of_the_workers_time(two_lanes):
    async def run():
        video = two_lanes.session(None, 16000, LiveConfig())
        coefficients = two_lanes.session(None, 16000, LiveConfig(video=False))
        video.start()
        coefficients.start()
        await asyncio.gather(speak(video, 3.5), speak(coefficients, 3.5))
        costs = video.cost(), coefficients.cost(), two_lanes.session_cost(True), two_lanes.session_cost(False)
        await video.close()
        await coefficients.close()
        # the workers were just busy, but with those sessions closed their load is gone: a new one is let in
        return costs, two_lanes.admits(True), two_lanes.capacity(True)

    (video, coefficients, expected_video, expected_coefficients), admits, capacity = asyncio.run(run())
    assert admits and capacity == 2 * int(live.ADMIT_BELOW // live.NEW_SESSION_COST[True])
    assert 0.01 < coefficients < video < 1.0  # drawing costs more than the clock alone
    assert expected_video == pytest.approx(video, rel=0.01) and expected_coefficients == pytest.approx(coefficients, rel=0.01)


def test_the_server_refuses_what_its_measured_capacity_cannot_carry_and_says_its_capacity():
    engine = Engine(max_sessions=8, workers=1, ears="mel")
    room = int(live.ADMIT_BELOW // live.NEW_SESSION_COST[True])  # video sessions one lane takes before any settles

    async def body(url, server):
        opened = []
        for _ in range(room):
            socket = await connect(url)
            await socket.send(json.dumps({"type": "start", "outputs": ["video"], "pacing": "realtime"}))
            assert json.loads(await socket.recv())["type"] == "ready"
            opened.append(socket)
        metrics = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics").read().decode())
        started = time.monotonic()
        async with connect(url) as extra:
            await extra.send(json.dumps({"type": "start", "outputs": ["video"]}))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    reply = json.loads(await extra.recv())
        refused_in = time.monotonic() - started
        for socket in opened:
            await socket.close()
        return metrics, reply, closed.value.rcvd.code, refused_in

    try:
        metrics, reply, code, refused_in = asyncio.run(with_server(engine, body, admit_by_load=True))
    finally:
        engine.close()
    assert reply["code"] == "too_many_sessions" and "measured capacity" in reply["message"] and code == 4429
    assert refused_in < 0.5
    assert 'talkinghead_capacity_sessions{video="true"} 0' in metrics
    assert 'talkinghead_worker_busy_ratio{worker="0"}' in metrics
