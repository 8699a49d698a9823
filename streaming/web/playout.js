// Frames drawn at their time on the audio clock. The session's caller sample n is heard at t0 + n / rate
// (t0: set once audio starts). A frame covers [pts, pts + duration) of the session's stream, which is the
// caller's audio with silence inserted where it had none (before the first sample, when the producer
// stalled): a frame's source (its caller samples) places it on the caller's time line, and an idle frame
// keeps the offset of the last frame with a source. JPEGs are decoded as they arrive. A frame decoded
// after its time is counted late and drawn at once, unless a newer frame is due too: then only the newest
// is drawn and the older are skipped.

const RECENT = 100; // frames the latency and sync quantiles look back over

export class Playout {
  /** `clock()`: seconds on the AudioContext's clock of the sample being heard now. */
  constructor(clock, sampleRate) {
    this.clock = clock;
    this.sampleRate = sampleRate;
    this.t0 = null;
    this.queue = []; // {frame, offset (s after t0), ready, bitmap (null without a picture), late}, in order
    this.draws = []; // recent draws: {index, pts, source, due, at, late} on the audio clock, for tests
    this.shift = 0; // caller time minus stream time (pts), from the last frame with a source
    this.afterIdle = true; // the last frame had no source (so does the stream before the first sample)
    this.stats = { received: 0, decoded: 0, drawn: 0, late: 0, skipped: 0, latencies: [], syncErrors: [] };
  }

  /** The session's first sample is heard at audio-clock time `t0`. */
  start(t0) {
    this.t0 = t0;
  }

  push(frame) {
    this.stats.received++;
    if (frame.latency !== null) keep(this.stats.latencies, frame.latency);
    if (frame.source) { // after silence the caller's samples end the frame's span, else they start it
      const [first, end] = frame.source;
      this.shift = this.afterIdle ? end / this.sampleRate - frame.pts - frame.duration
        : first / this.sampleRate - frame.pts;
    }
    this.afterIdle = !frame.source;
    const entry = { frame, offset: frame.pts + this.shift, ready: false, bitmap: null, late: false };
    this.queue.push(entry);
    const decoded = frame.jpeg ? createImageBitmap(frame.jpeg).catch(() => null) : Promise.resolve(null);
    decoded.then((bitmap) => {
      this.stats.decoded++;
      entry.late = this.t0 !== null && this.clock() > this.t0 + entry.offset;
      if (entry.late) this.stats.late++;
      if (this.queue.includes(entry)) Object.assign(entry, { ready: true, bitmap });
      else if (bitmap) bitmap.close(); // cleared meanwhile (an interrupt)
    });
  }

  /** The frame to draw now, or null; call once per animation frame. Its sync error is recorded. */
  next() {
    if (this.t0 === null) return null;
    const now = this.clock();
    let pick = -1;
    this.queue.forEach((entry, i) => {
      if (entry.ready && this.t0 + entry.offset <= now) pick = i; // the newest due frame
    });
    if (pick < 0) return null;
    const skipped = this.queue.splice(0, pick);
    for (const entry of skipped) this.discard(entry);
    this.stats.skipped += skipped.length;
    const entry = this.queue.shift();
    this.stats.drawn++;
    const due = this.t0 + entry.offset;
    if (!entry.late) keep(this.stats.syncErrors, now - due);
    const { index, pts, source } = entry.frame;
    keep(this.draws, { index, pts, source, due, at: now, late: entry.late }, 300);
    return entry;
  }

  /** Drop every frame not drawn yet (after an interrupt); they are not counted as skipped. */
  clear() {
    for (const entry of this.queue) this.discard(entry);
    this.queue = [];
  }

  discard(entry) {
    if (entry.bitmap) entry.bitmap.close();
  }

  /** Quantile `q` of the recent latencies or sync errors (`which`), or null before any. */
  quantile(which, q) {
    const values = [...this.stats[which]].sort((a, b) => a - b);
    return values.length ? values[Math.min(values.length - 1, Math.floor(q * values.length))] : null;
  }
}

function keep(list, value, most = RECENT) {
  list.push(value);
  if (list.length > most) list.shift();
}
