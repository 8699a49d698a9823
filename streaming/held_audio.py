"""Speech held back until the frame that shows it goes out, for transports that play sound and pictures apart.

Pipecat's output transport and LiveKit's avatar runner queue audio and video
separately; a face drawn a look-ahead after its sound would trail the voice.
Their adapters (:mod:`.pipecat_video`, :mod:`.livekit_avatar`) keep the
caller's audio here and send it on behind each frame, the span that frame
shows, sample for sample; markers (the end of an utterance) wait until the
audio before them has gone.
"""

from __future__ import annotations

import collections
from typing import Generic, TypeVar

import numpy as np

from talkinghead.contracts.frame import Frame

Mark = TypeVar("Mark")


def mono_int16(data: bytes | memoryview, channels: int) -> np.ndarray:
    """Interleaved int16 PCM as one int16 channel (the mean of the channels): what a session hears and sends on."""
    pcm = np.frombuffer(data, "<i2")
    if channels > 1:
        pcm = np.round(pcm.reshape(-1, channels).mean(axis=1)).astype("<i2")
    return pcm


class HeldAudio(Generic[Mark]):
    """The caller's audio from the first sample not yet sent on, as the int16 pieces it came in, and markers."""

    def __init__(self) -> None:
        self._unsent: collections.deque[np.ndarray] = collections.deque()
        self._marks: collections.deque[tuple[int, Mark]] = collections.deque()  # (samples before it, marker)
        self.pushed = 0  # samples taken in
        self.sent = 0  # samples handed on

    def push(self, pcm: np.ndarray) -> None:
        self._unsent.append(pcm)
        self.pushed += len(pcm)

    def mark(self, item: Mark) -> None:
        """Hold ``item`` until every sample pushed before it has been sent on."""
        self._marks.append((self.pushed, item))

    def take(self, frame: Frame) -> tuple[int, np.ndarray] | None:
        """The audio to send behind ``frame``: the unsent samples up to the end of its span (with any a frame
        dropped before it spanned), as (how many of them come before the frame's own span, samples); None for
        an idle frame, or one drawn before an interrupt dropped its speech."""
        if frame.source is None or frame.source[1] <= self.sent:
            return None
        first, end = frame.source
        start, pieces = self.sent, []
        while self.sent < end and self._unsent:  # (a span never reaches past the audio pushed)
            chunk = self._unsent.popleft()
            take = min(len(chunk), end - self.sent)
            if take < len(chunk):
                self._unsent.appendleft(chunk[take:])
            pieces.append(chunk[:take])
            self.sent += take
        return (first - start, np.concatenate(pieces)) if pieces else None

    def due(self) -> list[Mark]:
        """The markers whose audio has all been sent, in order (each is handed out once)."""
        ready = []
        while self._marks and self._marks[0][0] <= self.sent:
            ready.append(self._marks.popleft()[1])
        return ready

    def drop(self) -> list[Mark]:
        """An interrupt: the unsent audio is dropped; returns the markers held, released."""
        self._unsent.clear()
        self.sent = self.pushed
        marks = [item for _, item in self._marks]
        self._marks.clear()
        return marks
