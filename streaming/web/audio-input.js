// Audio into the session, paced by the AudioContext: the microphone, or a decoded file played twice on the
// same clock (once now into the PCM worklet, which sends it; once `delay` seconds later to the speakers,
// so the face drawn for each sample is heard with it). `onChunk(pcm, time)` gets Int16 chunks and the
// context time of their first sample; the input's `t0` is when its first sent sample is heard.

const WORKLET = new URL("./pcm-worklet.js", import.meta.url);
const loaded = new WeakSet();

/** Load the PCM worklet into `context` (once): before opening a session, so audio follows `ready` at once. */
export async function loadWorklet(context) {
  if (!loaded.has(context)) {
    await context.audioWorklet.addModule(WORKLET);
    loaded.add(context);
  }
}

async function pcmNode(context, onChunk) {
  await loadWorklet(context);
  const node = new AudioWorkletNode(context, "pcm16", {
    numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1, channelCountMode: "explicit", // inputs mixed to mono
  });
  node.port.onmessage = (event) => onChunk(event.data.pcm, event.data.time);
  node.connect(context.destination); // it outputs silence; being connected keeps it processing
  return node;
}

/** The microphone (`monitor`: also play it back `delay` later, for headphones). Resolves to
 * {t0 (set by the first chunk), stop()}; `onStart(t0)` is called with the first chunk. */
export async function microphoneInput(context, delay, { onChunk, onStart, monitor = false }) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: false, autoGainControl: false },
  });
  const source = context.createMediaStreamSource(stream);
  let started = false;
  const node = await pcmNode(context, (pcm, time) => {
    if (!started) {
      started = true;
      onStart(time + delay);
    }
    onChunk(pcm);
  });
  source.connect(node);
  let echo = null;
  if (monitor) {
    echo = new DelayNode(context, { delayTime: delay, maxDelayTime: Math.max(1, delay) });
    source.connect(echo).connect(context.destination);
  }
  return {
    stop() {
      stream.getTracks().forEach((track) => track.stop());
      source.disconnect();
      node.disconnect();
      if (echo) echo.disconnect();
    },
  };
}

/** A decoded AudioBuffer (at the context's rate). Sends exactly its samples (mixed to mono), starting
 * 50 ms from now, and plays it from `delay` later. `onEnd()` follows the last chunk. */
export async function fileInput(context, buffer, delay, { onChunk, onStart, onEnd }) {
  const start = context.currentTime + 0.05;
  const total = buffer.length;
  let sent = 0;
  const node = await pcmNode(context, (pcm, time) => {
    const skip = Math.max(0, Math.round((start - time) * context.sampleRate)); // silence before the start
    const take = pcm.subarray(Math.min(skip, pcm.length), Math.min(pcm.length, skip + total - sent));
    if (take.length === 0) return;
    sent += take.length;
    onChunk(take);
    if (sent === total) onEnd();
  });
  const sender = new AudioBufferSourceNode(context, { buffer });
  sender.connect(node);
  sender.onended = () => node.port.postMessage("flush");
  const player = new AudioBufferSourceNode(context, { buffer });
  player.connect(context.destination);
  sender.start(start);
  player.start(start + delay);
  onStart(start + delay);
  return {
    stop() {
      for (const source of [sender, player]) {
        source.onended = null;
        source.stop();
        source.disconnect();
      }
      node.disconnect();
    },
  };
}
