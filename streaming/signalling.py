"""``/v1/webrtc`` on ``talkinghead serve``: a browser (or any WebRTC peer) calls the avatar.

One WebSocket connection is one call. The client sends an offer (its
microphone as an audio track, and room for the avatar's video and audio);
the server answers with every ICE candidate already in the SDP (no
trickle), hears the caller's audio and sends back the avatar's
(:class:`talkinghead.streaming.webrtc.AvatarTracks`). The call lasts while
the socket is open: ``{"type": "bye"}``, closing it, or the peer
connection failing ends it and frees the session. Errors are the stream
protocol's ``{"type": "error", "code", "message"}`` (``docs/PROTOCOL.md``).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from talkinghead.contracts.clock import as_fraction
from talkinghead.streaming.live import LiveConfig
from talkinghead.streaming.messages import ProtocolError, error_message, parse_message

if TYPE_CHECKING:
    from talkinghead.streaming.server import Server


class WebRtcCalls:
    """The ``/v1/webrtc`` handler of a :class:`~talkinghead.streaming.server.Server` (its engine, limits and
    metrics)."""

    def __init__(self, server: Server) -> None:
        self.server = server

    async def __call__(self, connection: ServerConnection) -> None:
        tracks = peer = None
        try:
            offer = await self._receive_offer(connection)
            try:
                from talkinghead.streaming import webrtc
            except ImportError as error:
                raise ProtocolError("webrtc_unavailable", str(error), 4501) from None
            with self.server.admitted(connection):
                try:
                    config = LiveConfig(fps=as_fraction(offer.get("fps", 25), "fps"))
                    tracks = webrtc.AvatarTracks(self.server.engine, offer.get("avatar"), config)
                except (ValueError, TypeError) as error:
                    raise ProtocolError("bad_offer", str(error), 4400) from None
                peer = webrtc.RTCPeerConnection()
                failed = asyncio.Event()
                peer.on("track", lambda track: tracks.listen(track) if track.kind == "audio" else None)
                peer.on("connectionstatechange",
                        lambda: failed.set() if peer.connectionState in ("failed", "closed") else None)
                answer = await self._answer(peer, webrtc.RTCSessionDescription(offer["sdp"], "offer"), tracks)
                await connection.send(json.dumps({"type": "answer", "sdp": answer}))
                await self._hold(connection, failed)
        except ProtocolError as error:
            await self.server.reject(connection, error)
        except ConnectionClosed:
            pass
        finally:
            if tracks is not None:
                await tracks.close()
            if peer is not None:
                await peer.close()

    async def _receive_offer(self, connection: ServerConnection) -> dict:
        try:
            message = await asyncio.wait_for(connection.recv(), self.server.config.idle_timeout_s)
        except asyncio.TimeoutError:
            raise ProtocolError("idle_timeout", "no offer", 4408) from None
        offer = parse_message(message)
        if offer.get("type") != "offer" or not isinstance(offer.get("sdp"), str):
            raise ProtocolError("not_offered", "the first message must be {\"type\": \"offer\", \"sdp\": ...}", 4400)
        return offer

    @staticmethod
    async def _answer(peer, offer, tracks) -> str:
        """Take the offer, send the avatar's tracks on its transceivers, gather every candidate; the answer's SDP."""
        try:
            await peer.setRemoteDescription(offer)
            peer.addTrack(tracks.audio)
            peer.addTrack(tracks.video)
            await peer.setLocalDescription(await peer.createAnswer())
        except Exception as error:  # aiortc reports a bad offer with many kinds of error; none may kill the server
            raise ProtocolError("bad_sdp", f"cannot answer this offer: {error}", 4400) from None
        return peer.localDescription.sdp

    @staticmethod
    async def _hold(connection: ServerConnection, failed: asyncio.Event) -> None:
        """Keep the call up until ``bye``, the socket closing or the peer connection failing."""
        ended = asyncio.create_task(failed.wait())
        try:
            while True:
                receive = asyncio.create_task(connection.recv())
                done, _ = await asyncio.wait({receive, ended}, return_when=asyncio.FIRST_COMPLETED)
                if ended in done:
                    receive.cancel()
                    await connection.close(1000, "call ended")
                    return
                try:
                    kind = parse_message(receive.result()).get("type")
                except ProtocolError as error:  # a malformed message during the call is reported, not fatal
                    await connection.send(error_message(error.code, str(error)))
                    continue
                if kind == "bye":
                    await connection.close(1000, "bye")
                    return
                await connection.send(error_message("unknown_message", f"unknown message type {kind!r}"))
        finally:
            ended.cancel()
