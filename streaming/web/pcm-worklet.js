// AudioWorklet: the first input channel as Int16 chunks of `chunkMs` (default 20 ms) at the context's own
// rate, posted as {pcm: Int16Array, time: the context time of the chunk's first sample}. The time lets the
// page place what it sent on the same clock it plays and draws by. A "flush" message posts a partial chunk.

class PcmProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const chunkMs = options.processorOptions?.chunkMs ?? 20;
    this.chunk = new Int16Array(Math.round((sampleRate * chunkMs) / 1000));
    this.filled = 0;
    this.chunkTime = 0;
    this.port.onmessage = (event) => {
      if (event.data === "flush") this.post();
    };
  }

  process(inputs) {
    const samples = inputs[0]?.[0];
    if (!samples) return true; // no input connected (yet, or any more)
    for (let i = 0; i < samples.length; i++) {
      if (this.filled === 0) this.chunkTime = currentTime + i / sampleRate;
      this.chunk[this.filled++] = Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32768)));
      if (this.filled === this.chunk.length) this.post();
    }
    return true;
  }

  post() {
    if (this.filled === 0) return;
    const pcm = this.chunk.slice(0, this.filled);
    this.port.postMessage({ pcm, time: this.chunkTime }, [pcm.buffer]);
    this.filled = 0;
  }
}

registerProcessor("pcm16", PcmProcessor);
