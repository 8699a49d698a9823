// The page: the avatar picker, the audio sources, one protocol session at a time, the playout of its
// frames on the audio clock, the 3D view and the counters. `window.talkinghead` exposes the state to tests.
import { fileInput, loadWorklet, microphoneInput } from "./audio-input.js";
import { TalkingHeadClient, fetchAvatars, fetchMesh } from "./client.js";
import { FaceView } from "./face-view.js";
import { Playout } from "./playout.js";

const $ = (id) => document.getElementById(id);
const canvas = $("video");
const painter = canvas.getContext("2d");
const params = new URLSearchParams(location.search); // ?fps=&lookahead=&delay=&avatar= preset the settings
for (const name of ["fps", "lookahead", "delay"]) if (params.has(name)) $(name).value = params.get(name);

let context = null; // the AudioContext, made on the first click (browsers want a gesture)
let session = null; // {kind, client, playout, input}
let face = null; // the 3D view (null until its mesh is in)
let faceLoad = null; // {name, promise}: the mesh being loaded or shown

function status(text) {
  $("status").textContent = text;
}

/** Seconds on the AudioContext's clock of the sample being heard now. */
function clock() {
  const stamp = context.getOutputTimestamp ? context.getOutputTimestamp() : {};
  if (stamp.performanceTime) return stamp.contextTime + (performance.now() - stamp.performanceTime) / 1000;
  return context.currentTime - (context.outputLatency || 0);
}

/** Show avatar `name`'s mesh in the 3D view (once per name); a failure is shown there and never throws. */
function showFace(name) {
  if (!faceLoad || faceLoad.name !== name) {
    const promise = fetchMesh(name).then((mesh) => {
      if (face) face.dispose();
      face = new FaceView($("face3d"), mesh);
    }).catch((error) => {
      $("face3d").textContent = `3D view unavailable: ${error.message}`;
      faceLoad = null;
    });
    faceLoad = { name, promise };
  }
  return faceLoad.promise;
}

async function begin(kind, file = null) {
  if (session) finish();
  context = context || new AudioContext({ latencyHint: "interactive" });
  await context.resume();
  const buffer = file ? await context.decodeAudioData(await file.arrayBuffer()) : null;
  const avatar = $("avatar").value;
  await Promise.all([loadWorklet(context), showFace(avatar)]); // before the session: audio follows ready at once
  const client = new TalkingHeadClient();
  const playout = new Playout(clock, context.sampleRate);
  const current = { kind, client, playout, input: null, ended: null, interrupted: null };
  session = current;
  client.on("frame", (frame) => playout.push(frame));
  client.on("error", (error) => status(`server error ${error.code}: ${error.message}`));
  client.on("interrupted", (message) => {
    current.interrupted = message;
  });
  client.on("end", (end) => {
    current.ended = end;
    status(`Session ended: ${end.frames} frames, ${end.dropped} dropped by the server.`);
  });
  client.on("close", () => {
    if (kind === "mic" && current.input) current.input.stop(); // a file plays on: its tail is still due
    if (session === current) buttons(false);
  });
  const ready = await client.connect({
    sample_rate: context.sampleRate, format: "pcm_s16le", channels: 1, avatar, pacing: "realtime",
    fps: Number($("fps").value), lookahead_ms: Number($("lookahead").value), outputs: ["video", "coefficients"],
  });
  canvas.width = ready.width;
  canvas.height = ready.height;
  const delay = Number($("delay").value) / 1000;
  const hooks = {
    onChunk: (pcm) => client.sendAudio(pcm),
    onStart: (t0) => playout.start(t0),
    onEnd: () => client.end(),
    monitor: $("monitor").checked,
  };
  current.input = kind === "file" ? await fileInput(context, buffer, delay, hooks)
    : await microphoneInput(context, delay, hooks);
  buttons(true);
  status(kind === "file" ? `Playing ${file.name}.` : "Listening to the microphone.");
}

/** Stop the input and end the session; frames already on their way are still drawn. */
function finish() {
  const { client, input } = session;
  if (input) input.stop();
  client.end();
  buttons(false);
}

function interrupt() {
  session.client.interrupt();
  session.playout.clear();
  if (session.kind === "file" && session.input) { // the file's speech is cut; the face goes on idling
    session.input.stop();
    session.input = null;
  }
}

function buttons(running) {
  $("interrupt").disabled = !running;
  $("stop").disabled = !running;
}

function start(kind, file) {
  begin(kind, file).catch((error) => {
    status(`Could not start: ${error.message}`);
    console.error(error);
  });
}

function draw() {
  const entry = session && session.playout.next();
  if (entry) {
    if (entry.bitmap) {
      painter.drawImage(entry.bitmap, 0, 0, canvas.width, canvas.height);
      entry.bitmap.close();
    }
    if (face) face.update(entry.frame.blendshapes, entry.frame.pose);
  }
  requestAnimationFrame(draw);
}

const ms = (seconds) => (seconds === null ? "–" : `${Math.round(seconds * 1000)} ms`);

function showCounters() {
  if (!session) return;
  const { stats } = session.playout;
  for (const name of ["received", "drawn", "late", "skipped"]) $(name).textContent = stats[name];
  $("dropped").textContent = session.client.serverDropped;
  $("p50").textContent = ms(session.playout.quantile("latencies", 0.5));
  $("p95").textContent = ms(session.playout.quantile("latencies", 0.95));
  $("sync").textContent = ms(session.playout.quantile("syncErrors", 0.5));
  const p95 = session.playout.quantile("latencies", 0.95); // a delay that leaves 1 frame and 50 ms to spare
  $("suggested").textContent = p95 === null ? "–" : ms(p95 + 0.05 + 1 / Number($("fps").value));
}

/** Luminance statistics of the avatar canvas and a 16x16 grid of it, to tell a drawn face from a blank one. */
function canvasSignature() {
  const { data } = painter.getImageData(0, 0, canvas.width, canvas.height);
  const grid = new Array(256).fill(0);
  let sum = 0;
  let squares = 0;
  for (let y = 0; y < canvas.height; y++) {
    for (let x = 0; x < canvas.width; x++) {
      const i = 4 * (y * canvas.width + x);
      const value = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
      sum += value;
      squares += value * value;
      grid[16 * Math.floor((16 * y) / canvas.height) + Math.floor((16 * x) / canvas.width)] += value;
    }
  }
  const count = canvas.width * canvas.height;
  const mean = sum / count;
  return { mean, std: Math.sqrt(Math.max(0, squares / count - mean * mean)), grid: grid.map((v) => (v * 256) / count) };
}

window.talkinghead = {
  get session() { return session; },
  get face() { return face; },
  get stats() {
    if (!session) return null;
    const { playout, client } = session;
    return {
      ...playout.stats, serverDropped: client.serverDropped, gaps: client.gaps, t0: playout.t0,
      ended: session.ended, interrupted: session.interrupted, queued: playout.queue.length,
      samplesSent: client.samplesSent, sampleRate: playout.sampleRate, draws: playout.draws,
      latencyP50: playout.quantile("latencies", 0.5), latencyP95: playout.quantile("latencies", 0.95),
    };
  },
  canvasSignature,
};

$("mic").onclick = () => start("mic");
$("file").onchange = (event) => {
  const [file] = event.target.files;
  event.target.value = ""; // choosing the same file again starts it again
  if (file) start("file", file);
};
$("interrupt").onclick = interrupt;
$("stop").onclick = finish;
const drop = $("drop");
drop.ondragover = (event) => {
  event.preventDefault();
  drop.classList.add("over");
};
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  const file = event.dataTransfer.files[0];
  if (file) start("file", file);
};
$("avatar").onchange = () => showFace($("avatar").value);

fetchAvatars().then(async ({ avatars, default: chosen }) => {
  for (const name of avatars) $("avatar").add(new Option(name, name, false, name === (params.get("avatar") || chosen)));
  await showFace($("avatar").value);
}).catch((error) => status(`Cannot reach the server: ${error.message}`));
requestAnimationFrame(draw);
setInterval(showCounters, 250);
