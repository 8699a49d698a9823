// talkinghead protocol v1 client for browsers (docs/PROTOCOL.md), an ES module with no dependencies.
//
//   import { TalkingHeadClient, fetchAvatars, fetchMesh } from "./client.js";
//   const client = new TalkingHeadClient();               // ws://<this page's host>/v1/stream; {url, token}
//   client.on("frame", (frame) => ...);                   // also "ready", "interrupted", "end", "error", "close"
//   const ready = await client.connect({ sample_rate: 48000, fps: 25 });   // any `start` fields
//   client.sendAudio(int16OrFloat32Array);                // mono samples at sample_rate, any chunk size
//   client.flush(); client.interrupt(); client.end(); client.close();
//
// A frame is {index, pts (seconds), ptsRational [num, den], duration (1 / fps, seconds), source ([first,
// end) caller samples, or null), blendshapes (52) and pose (6) as Float32Array or null, jpeg (a Blob) or
// null, arrival (performance.now() in seconds), latency (seconds from sending the audio that completes its
// source to its arrival, or null for an idle frame)}. `client.serverDropped` counts the frames the server
// dropped: the gaps in the indices (`client.gaps`), and after `end` its own count. With `outputs` holding
// "audio", "audio" events carry {index, data} (the frame's audio, a Float32Array at the session's rate).

const decoder = new TextDecoder();

export class TalkingHeadClient extends EventTarget {
  constructor({ url = defaultUrl(), token = null } = {}) {
    super();
    this.url = token ? `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : url;
    this.socket = null;
    this.ready = null;
    this.format = "pcm_s16le";
    this.samplesSent = 0;
    this.gaps = 0; // frames missing between indices: dropped by the server
    this.endDropped = 0; // the server's own count, from `end`
    this._sends = []; // [samples sent after a message, performance.now() in s], oldest first
    this._nextIndex = 0;
  }

  /** Frames the server dropped (for a slow client, or when it could not keep up), as far as known. */
  get serverDropped() {
    return Math.max(this.gaps, this.endDropped);
  }

  /** Subscribe to an event; the handler gets the event's payload. Returns a function that unsubscribes. */
  on(type, handler) {
    const listener = (event) => handler(event.detail);
    this.addEventListener(type, listener);
    return () => this.removeEventListener(type, listener);
  }

  /** Open the socket and send `start` (any of its fields); resolves with the server's `ready`. */
  connect(start = {}) {
    this.format = start.format || "pcm_s16le";
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.url);
      socket.binaryType = "arraybuffer";
      this.socket = socket;
      socket.onopen = () => socket.send(JSON.stringify({ ...start, type: "start" }));
      socket.onmessage = (message) => {
        if (typeof message.data !== "string") {
          this._frame(message.data);
          return;
        }
        const payload = JSON.parse(message.data);
        if (payload.type === "ready") {
          this.ready = payload;
          resolve(payload);
        } else if (payload.type === "error" && !this.ready) {
          reject(new Error(`${payload.code}: ${payload.message}`));
        } else if (payload.type === "end") {
          this.endDropped = payload.dropped;
          this._skipTo(payload.frames); // the indices run to frames - 1
        }
        this._emit(payload.type, payload);
      };
      socket.onerror = () => reject(new Error(`cannot connect to ${this.url}`));
      socket.onclose = (event) => {
        reject(new Error(`closed before ready (${event.code} ${event.reason})`));
        this._emit("close", { code: event.code, reason: event.reason });
      };
    });
  }

  /** Send mono samples (Int16Array, or Float32Array in [-1, 1]), converted to the session's format. */
  sendAudio(samples) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN || samples.length === 0) return;
    this.socket.send(this.format === "f32le" ? toFloat32(samples) : toInt16(samples));
    this.samplesSent += samples.length;
    this._sends.push([this.samplesSent, performance.now() / 1000]);
  }

  flush() { this._control("flush"); }
  interrupt() { this._control("interrupt"); }
  end() { this._control("end"); }

  close() {
    if (this.socket) this.socket.close(1000, "bye");
  }

  _control(type) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type }));
  }

  _frame(buffer) {
    const arrival = performance.now() / 1000;
    const length = new DataView(buffer).getUint32(0, false);
    const header = JSON.parse(decoder.decode(new Uint8Array(buffer, 4, length)));
    if (header.type !== "frame") {
      this._emit(header.type, { ...header, data: new Float32Array(buffer.slice(4 + length)) });
      return;
    }
    this._skipTo(header.index);
    this._nextIndex = header.index + 1;
    const body = buffer.byteLength > 4 + length ? new Blob([buffer.slice(4 + length)], { type: "image/jpeg" }) : null;
    const [num, den] = header.pts;
    this._emit("frame", {
      index: header.index,
      pts: num / den,
      ptsRational: header.pts,
      duration: this.ready.fps[1] / this.ready.fps[0],
      source: header.source,
      blendshapes: header.blendshapes ? Float32Array.from(header.blendshapes) : null,
      pose: header.pose ? Float32Array.from(header.pose) : null,
      jpeg: body,
      arrival,
      latency: header.source ? this._latency(header.source[1], arrival) : null,
    });
  }

  /** The next index is `index`: the ones missing before it were dropped by the server. */
  _skipTo(index) {
    this.gaps += Math.max(0, index - this._nextIndex);
    this._nextIndex = Math.max(this._nextIndex, index);
  }

  /** Arrival minus the send time of the first message that holds sample `end - 1`. */
  _latency(end, arrival) {
    while (this._sends.length > 1 && this._sends[0][0] < end) this._sends.shift();
    const [sent, at] = this._sends[0] || [0, 0];
    return sent >= end ? arrival - at : null;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/** `GET /v1/avatars`: {avatars: [names], default: name}. */
export async function fetchAvatars(base = "") {
  const response = await fetch(`${base}/v1/avatars`);
  if (!response.ok) throw new Error(`GET /v1/avatars: ${response.status}`);
  return response.json();
}

/** `GET /v1/avatars/<name>/mesh`, decoded: {vertices, neutral, blendshapes (Float32Array), triangles
 * (Uint32Array), names, pose_names}. Vertices are in the model frame (+y up, +z toward the camera). */
export async function fetchMesh(name, base = "") {
  const response = await fetch(`${base}/v1/avatars/${encodeURIComponent(name)}/mesh`);
  if (!response.ok) throw new Error(`GET mesh of ${name}: ${response.status}`);
  const mesh = await response.json();
  return {
    ...mesh,
    neutral: new Float32Array(fromBase64(mesh.neutral)),
    blendshapes: new Float32Array(fromBase64(mesh.blendshapes)),
    triangles: new Uint32Array(fromBase64(mesh.triangles)),
  };
}

function defaultUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/stream`;
}

function fromBase64(text) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return bytes.buffer; // little-endian, as the server writes it; every browser is little-endian
}

function toInt16(samples) {
  if (samples instanceof Int16Array) return samples;
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32768)));
  return out;
}

function toFloat32(samples) {
  if (samples instanceof Float32Array) return samples;
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = samples[i] / 32768;
  return out;
}
