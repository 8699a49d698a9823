"""WebRTC: the avatar's tracks on one media clock, and calls through ``/v1/webrtc`` over loopback
(an aiortc peer in Python, and headless Chromium)."""

import asyncio
import importlib
import importlib.util
import json
import sys
import time
import wave
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from servers import TOKEN, serving_in_thread, with_server
from websockets.asyncio.client import connect

from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.audio_io import load_audio
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.resample import resample
from talkinghead.jobs.render import demo_audio
from talkinghead.streaming.live import LiveConfig

needs_aiortc = pytest.mark.skipif(importlib.util.find_spec("aiortc") is None,
                                  reason="needs the webrtc extra (pip install 'talkinghead[webrtc]')")
WEB_ROOT = Path(__file__).resolve().parents[1] / "streaming" / "web"


@pytest.fixture(scope="module")
def speech():
    samples, rate = load_audio(demo_audio())
    return samples, rate


async def _drain(track) -> list:
    """Every frame of a track until it ends."""
    from aiortc.mediastreams import MediaStreamError

    frames = []
    while True:
        try:
            frames.append(await track.recv())
        except MediaStreamError:
            return frames


@needs_aiortc
def test_tracks_put_video_and_audio_on_the_sessions_media_clock(engine, speech):
    """Video pts/90000 and audio pts/48000 are the session's own frame times: each picture is the session's
    frame at that time, and the audio around it is the session's audio there (resampled to 48 kHz)."""
    from talkinghead.streaming.webrtc import AvatarTracks

    samples, rate = speech
    samples = samples[: int(1.2 * rate)]
    config = LiveConfig(fps=Fraction(30000, 1001), pacing="fast")

    async def run():
        async with engine.session(None, rate, replace(config, audio=True)) as session:
            await session.push_audio(samples)
            await session.end()
            reference = [frame async for frame in session]
        async with AvatarTracks(engine, config=config, sample_rate=rate) as tracks:
            await tracks.push_audio(samples, rate)
            await tracks.session.end()
            video, audio = await asyncio.gather(_drain(tracks.video), _drain(tracks.audio))
        return reference, video, audio

    reference, video, audio = asyncio.run(run())
    assert [f.pts for f in video] == [round(f.pts * 90000) for f in reference]
    assert [f.pts for f in video][:3] == [0, 3003, 6006]
    assert all(f.time_base == Fraction(1, 90000) for f in video)
    assert all(np.array_equal(v.to_ndarray(format="rgb24"), f.image) for v, f in zip(video, reference))
    assert [f.pts for f in audio] == [960 * i for i in range(len(audio))]
    assert all(f.time_base == Fraction(1, 48000) and f.sample_rate == 48000 and f.samples == 960
               and f.format.name == "s16" and f.layout.name == "mono" for f in audio)
    sent = np.concatenate([f.to_ndarray()[0] for f in audio]).astype(np.float64)
    session_audio = resample(np.concatenate([f.audio for f in reference]), rate, 48000)
    assert len(sent) >= len(session_audio) - 2 * 960  # all but the resampler's tail
    assert np.abs(sent - np.clip(np.round(session_audio[: len(sent)] * 32768), -32768, 32767)).max() <= 1
    assert np.abs(sent).max() > 3000  # the speech is there, not silence


class _FakeRemote:
    """Stands in for a received aiortc audio track: stereo s16 48 kHz frames of 20 ms, then the end."""

    kind = "audio"

    def __init__(self, pcm: np.ndarray) -> None:
        self._frames = [pcm[i:i + 960] for i in range(0, len(pcm) - 959, 960)]
        self._pts = 0

    async def recv(self):
        import av
        from aiortc.mediastreams import MediaStreamError

        if not self._frames:
            raise MediaStreamError
        chunk = self._frames.pop(0)
        frame = av.AudioFrame.from_ndarray(np.repeat(chunk, 2)[None, :], format="s16", layout="stereo")
        frame.sample_rate, frame.pts = 48000, self._pts
        self._pts += 960
        return frame


@needs_aiortc
def test_a_listened_track_is_what_the_avatar_says(engine, speech):
    """Audio heard from a (stereo) remote track goes through the session and out of the audio track unchanged."""
    from talkinghead.streaming.webrtc import AvatarTracks

    samples, rate = speech
    pcm = np.round(resample(samples[: rate // 2], rate, 48000) * 32767).astype(np.int16)

    async def run():
        async with AvatarTracks(engine, config=LiveConfig(pacing="fast")) as tracks:
            remote = _FakeRemote(pcm)
            tracks.listen(remote)
            while remote._frames:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            await tracks.session.end()
            _, audio = await asyncio.gather(_drain(tracks.video), _drain(tracks.audio))
        return np.concatenate([f.to_ndarray()[0] for f in audio])

    heard = asyncio.run(run())
    usable = len(pcm) // 960 * 960
    assert len(heard) >= usable
    assert np.array_equal(heard[:usable], pcm[:usable])


@needs_aiortc
def test_speech_pushed_at_another_rate_is_resampled_to_the_sessions(engine, speech):
    """16 kHz speech pushed in pieces into a 48 kHz session comes out as that speech at 48 kHz."""
    from talkinghead.streaming.webrtc import AvatarTracks

    samples, rate = speech
    samples = samples[: rate // 2]

    async def run():
        async with AvatarTracks(engine, config=LiveConfig(pacing="fast")) as tracks:
            for start in range(0, len(samples), 777):
                await tracks.push_audio((samples[start:start + 777] * 32767).astype(np.int16), rate)
            await tracks.session.end()
            _, audio = await asyncio.gather(_drain(tracks.video), _drain(tracks.audio))
        return np.concatenate([f.to_ndarray()[0] for f in audio]).astype(np.float64)

    heard = asyncio.run(run())
    expected = np.round(resample((samples * 32767).astype(np.int16) / 32768.0, rate, 48000) * 32768)
    usable = len(expected) - 2 * 960  # the resampler's tail waits for audio that never comes
    assert len(heard) >= usable and np.abs(heard[:usable] - expected[:usable]).max() <= 1


@needs_aiortc
def test_idle_tracks_keep_flowing_with_silence(engine):
    """No speech: the face still comes at the frame rate (realtime), and the audio is silence."""
    from talkinghead.streaming.webrtc import AvatarTracks

    async def run():
        async with AvatarTracks(engine, config=LiveConfig(fps=10)) as tracks:
            started = time.perf_counter()
            video = [await asyncio.wait_for(tracks.video.recv(), 20) for _ in range(6)]
            elapsed = time.perf_counter() - started
            audio = [await asyncio.wait_for(tracks.audio.recv(), 20) for _ in range(20)]
        return video, elapsed, audio

    video, elapsed, audio = asyncio.run(run())
    pts = [f.pts for f in video]
    assert pts[0] == 0 and all(b > a and (b - a) % 9000 == 0 for a, b in zip(pts, pts[1:]))
    assert elapsed >= 0.7 * pts[-1] / 90000  # paced by the clock, not sent at once
    assert not any(f.to_ndarray().any() for f in audio)


@pytest.fixture
def without_aiortc(monkeypatch):
    """As if aiortc were not installed (and our module never imported)."""
    import talkinghead.streaming

    monkeypatch.setitem(sys.modules, "aiortc", None)
    monkeypatch.delitem(sys.modules, "talkinghead.streaming.webrtc", raising=False)
    monkeypatch.delattr(talkinghead.streaming, "webrtc", raising=False)


def test_a_missing_extra_says_how_to_get_it(without_aiortc):
    with pytest.raises(ImportError) as error:
        importlib.import_module("talkinghead.streaming.webrtc")
    assert str(error.value) == "WebRTC needs the webrtc extra: pip install 'talkinghead[webrtc]'"


# ------------------------------------------------------------------ signalling, over loopback
async def _error_of(url: str, *messages: str) -> tuple[dict, int | None]:
    async with connect(url) as socket:
        for message in messages:
            await socket.send(message)
        reply = json.loads(await socket.recv())
        await socket.wait_closed()
        return reply, socket.close_code


async def _settled(engine) -> int:
    """The engine's open sessions once the server has had a moment to free those of closed calls."""
    for _ in range(100):
        if engine.sessions == 0:
            break
        await asyncio.sleep(0.02)
    return engine.sessions


BAD_SDP = json.dumps({"type": "offer", "sdp": "v=0\r\nthis is not sdp\r\n"})


@pytest.mark.parametrize("messages, code, close", [
    (["{nope"], "bad_json", 4400),
    (['{"type": "start"}'], "not_offered", 4400),
    ([BAD_SDP], "bad_sdp", 4400),
    ([json.dumps({"type": "offer", "sdp": "v=0", "fps": 0})], "bad_offer", 4400),
    ([json.dumps({"type": "offer", "sdp": "v=0", "avatar": "nobody"})], "bad_offer", 4400),
])
@needs_aiortc
def test_bad_callers_get_an_error_and_the_server_goes_on(engine, messages, code, close):
    async def body(url, server):
        first = await _error_of(url, *messages)
        second = await _error_of(url, BAD_SDP)  # still answering
        return first, second, await _settled(engine)

    (reply, close_code), (again, _), sessions = asyncio.run(with_server(engine, body, "/v1/webrtc"))
    assert reply["type"] == "error" and reply["code"] == code and reply["message"] and close_code == close
    assert "Traceback" not in reply["message"]
    assert again["code"] == "bad_sdp" and sessions == 0


def test_without_aiortc_a_call_is_refused_in_one_line(engine, without_aiortc):

    async def body(url, server):
        return await _error_of(url, BAD_SDP)

    reply, close_code = asyncio.run(with_server(engine, body, "/v1/webrtc"))
    assert reply == {"type": "error", "code": "webrtc_unavailable",
                     "message": "WebRTC needs the webrtc extra: pip install 'talkinghead[webrtc]'"}
    assert close_code == 4501


@needs_aiortc
def test_a_full_server_refuses_the_call(engine):
    async def body(url, server):
        sessions = [engine.session() for _ in range(engine.max_sessions - engine.sessions)]
        try:
            return await _error_of(url, BAD_SDP)
        finally:
            for session in sessions:
                await session.close()

    reply, close_code = asyncio.run(with_server(engine, body, "/v1/webrtc"))
    assert reply["code"] == "too_many_sessions" and close_code == 4429


def _mouth_box(engine) -> tuple[slice, slice]:
    """Where the avatar's mouth is: the pixels an open jaw changes."""
    renderer = engine.renderer()
    weights = np.zeros((2, 52), np.float32)
    weights[1, ARKIT_INDEX["jawOpen"]] = 1.0
    closed, opened = renderer.draw(Coefficients(weights, np.zeros((2, 6), np.float32), 25)).astype(np.int16)
    rows, cols = np.nonzero(np.abs(opened - closed).max(2) > 40)
    return slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)


class _Speaker:
    """The caller's microphone for an aiortc peer: 20 ms frames in real time, silence around the speech."""

    def __new__(cls, pcm: np.ndarray):
        from aiortc import MediaStreamTrack

        class Speaker(MediaStreamTrack):
            kind = "audio"

            def __init__(self) -> None:
                super().__init__()
                self.sent = 0
                self.started: float | None = None

            async def recv(self):
                import av

                loop = asyncio.get_running_loop()
                if self.started is None:
                    self.started = loop.time()
                await asyncio.sleep(max(0.0, self.started + self.sent / 48000 - loop.time()))
                chunk = pcm[self.sent:self.sent + 960]
                chunk = np.pad(chunk, (0, 960 - len(chunk)))
                frame = av.AudioFrame.from_ndarray(chunk[None, :], format="s16", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = 48000, self.sent, Fraction(1, 48000)
                self.sent += 960
                return frame

        return Speaker()


async def _collect(track, into: list) -> None:
    from aiortc.mediastreams import MediaStreamError

    try:
        while True:
            frame = await track.recv()
            into.append((time.perf_counter(), frame))
    except MediaStreamError:
        pass


@needs_aiortc
def test_a_python_peer_calls_the_avatar_over_loopback(engine, speech):
    """An aiortc peer speaks the demo sentence into /v1/webrtc and gets the avatar back: decodable video of
    its size at about the frame rate, audio, a mouth that moves with the speech, and video and audio
    timestamps that advance together."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    samples, rate = speech
    fps, lead, talk, call = 10, 1.0, 2.5, 5.0
    pcm = np.round(resample(samples[int(0.3 * rate): int((0.3 + talk) * rate)], rate, 48000) * 32767)
    pcm = np.concatenate([np.zeros(int(lead * 48000)), pcm]).astype(np.int16)
    mouth = _mouth_box(engine)

    async def body(url, server):
        peer = RTCPeerConnection()
        peer.addTrack(_Speaker(pcm))
        peer.addTransceiver("video", direction="recvonly")
        video, audio, readers = [], [], []
        peer.on("track", lambda track: readers.append(asyncio.create_task(
            _collect(track, video if track.kind == "video" else audio))))
        await peer.setLocalDescription(await peer.createOffer())
        async with connect(url) as socket:
            await socket.send(json.dumps({"type": "offer", "sdp": peer.localDescription.sdp, "fps": fps}))
            answer = json.loads(await socket.recv())
            assert answer["type"] == "answer", answer
            await peer.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            await asyncio.sleep(call)
            during = engine.sessions
            await socket.send(json.dumps({"type": "bye"}))
            await socket.wait_closed()
        await peer.close()
        await asyncio.gather(*readers, return_exceptions=True)
        for _ in range(50):  # the server frees the call's session
            if engine.sessions == 0:
                break
            await asyncio.sleep(0.05)
        return video, audio, during, engine.sessions

    started = time.perf_counter()
    video, audio, during, after = asyncio.run(with_server(engine, body, "/v1/webrtc"))
    print(f"call: {len(video)} video and {len(audio)} audio frames in {time.perf_counter() - started:.1f} s")
    assert during == 1 and after == 0
    height, width = engine.renderer().size
    images = [frame.to_ndarray(format="rgb24") for _, frame in video]
    assert all(image.shape == (height, width, 3) for image in images)
    v_pts = np.array([frame.pts for _, frame in video])
    v_times = np.array([t for t, _ in video])
    assert np.all(np.diff(v_pts) > 0) and np.all(v_pts % (90000 // fps) == 0)  # on the session's frame clock
    arrival_rate = (len(video) - 1) / (v_times[-1] - v_times[0])
    assert len(video) >= 0.5 * fps * (call - 1) and arrival_rate >= 0.5 * fps, arrival_rate

    a_pts = np.array([frame.pts for _, frame in audio])
    sound = np.concatenate([frame.to_ndarray().reshape(-1, 2).mean(1) for _, frame in audio])
    assert len(sound) > 0 and np.all(np.diff(a_pts) == 960)
    # both clocks advance like the wall clock, together (within two video frames over the call)
    v_span, a_span = (v_pts[-1] - v_pts[0]) / 90000, (a_pts[-1] - a_pts[0]) / 48000
    wall_v, wall_a = v_times[-1] - v_times[0], audio[-1][0] - audio[0][0]
    assert abs(v_span - wall_v) < 0.3 and abs(a_span - wall_a) < 0.3, (v_span, wall_v, a_span, wall_a)

    # the mouth moves with the speech: the mouth box's change from the frame before, where the audio at
    # the frame's time is loud and where it is silent (audio and video offset by a second would mix them up)
    motion = np.array([np.abs(a[mouth].astype(float) - b[mouth]).mean() for a, b in zip(images[1:], images)])
    at = (v_pts[1:] * 48000) // 90000
    loud = np.array([np.sqrt(np.mean(sound[i:i + 4800] ** 2)) if i < len(sound) else 0.0 for i in at])
    speaking = loud > 0.1 * loud.max()
    assert speaking.sum() >= 5 and (~speaking).sum() >= 3
    assert motion[speaking].mean() > 2 * motion[~speaking].mean(), (motion, loud)


# ------------------------------------------------------------------ a real browser
@needs_aiortc
def test_chromium_calls_the_avatar_over_loopback(engine, speech, run_browser_script, tmp_path):
    """streaming/web/call.html in headless chromium, the demo sentence as its microphone: the call decodes the
    avatar's video at its size and plays its audio (pc.getStats() of the receiving side)."""
    samples, rate = speech
    pcm = np.round(resample(samples[: 3 * rate], rate, 48000) * 32767).astype(np.int16)
    wav = tmp_path / "mic.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(np.concatenate([np.zeros(48000, np.int16), pcm]).tobytes())
    screenshot = tmp_path / "call.png"
    height, width = engine.renderer().size
    with serving_in_thread(engine, token=TOKEN, web_root=WEB_ROOT) as server:
        page = f"http://127.0.0.1:{server.port}/call.html?token={TOKEN}&fps=12"
        result = run_browser_script("webrtc_call.mjs", page, str(wav), str(screenshot), "4", timeout=90)
        for _ in range(100):  # hanging up frees the call's session
            if engine.sessions == 0:
                break
            time.sleep(0.05)
        sessions_after = engine.sessions
    video, audio = result["video"], result["audio"]
    print({k: video.get(k) for k in ("framesDecoded", "framesDropped", "frameWidth", "frameHeight", "framesPerSecond")},
          {k: audio.get(k) for k in ("totalSamplesReceived", "concealedSamples")})
    assert result["errors"] == [] and result["state"] == "connected" and sorted(result["tracks"]) == ["audio", "video"]
    assert video["framesDecoded"] >= 25 and (video["frameWidth"], video["frameHeight"]) == (width, height)
    assert (result["element"]["width"], result["element"]["height"]) == (width, height)
    assert audio["totalSamplesReceived"] > 0
    assert result["afterHangUp"] and sessions_after == 0
    assert screenshot.stat().st_size > 10_000
