// Call the avatar over WebRTC through `talkinghead serve`'s /v1/webrtc (docs/PROTOCOL.md, "WebRTC signalling").
// An ES module with no dependencies.
//
//   import { callAvatar, webrtcUrl } from "./webrtc.js";
//   const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
//   const call = await callAvatar(webrtcUrl(), mic, { avatar: "default", token: null, fps: 25 });
//   video.srcObject = call.stream;          // the avatar's face and voice, kept in sync by the browser
//   call.pc.getStats();  call.hangUp();
//
// The offer carries every ICE candidate (no trickle): the server is local or on the same network, so the
// host candidates are enough and one round trip sets the call up. The socket stays open for the call;
// closing it (hangUp, or the server ending the call) closes the peer connection.

/** The signalling URL of the server that served this page. */
export function webrtcUrl(path = "/v1/webrtc") {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

/** Call the avatar with `micStream`'s audio; resolves once the answer is in, with {pc, stream, hangUp}. */
export async function callAvatar(url, micStream, { avatar = null, token = null, fps = null } = {}) {
  const pc = new RTCPeerConnection();
  const stream = new MediaStream();
  pc.addEventListener("track", (event) => stream.addTrack(event.track));
  const mic = micStream ? micStream.getAudioTracks() : [];
  for (const track of mic) pc.addTrack(track, micStream);
  if (mic.length === 0) pc.addTransceiver("audio", { direction: "recvonly" });
  pc.addTransceiver("video", { direction: "recvonly" });
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);

  const address = token ? `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : url;
  const socket = new WebSocket(address);
  const hangUp = () => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "bye" }));
    socket.close();
    pc.close();
  };
  try {
    await opened(socket);
    const offer = { type: "offer", sdp: pc.localDescription.sdp };
    if (avatar) offer.avatar = avatar;
    if (fps) offer.fps = fps;
    socket.send(JSON.stringify(offer));
    const answer = await nextMessage(socket);
    if (answer.type !== "answer") throw new Error(`${answer.code || answer.type}: ${answer.message || "no answer"}`);
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  } catch (error) {
    hangUp();
    throw error;
  }
  socket.addEventListener("close", () => pc.close());
  return { pc, stream, hangUp };
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", check);
  });
}

function opened(socket) {
  return new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", () => reject(new Error(`cannot reach ${socket.url}`)), { once: true });
  });
}

function nextMessage(socket) {
  return new Promise((resolve, reject) => {
    socket.addEventListener("message", (event) => resolve(JSON.parse(event.data)), { once: true });
    socket.addEventListener("close", (event) => reject(new Error(`closed (${event.code}) before an answer`)),
      { once: true });
  });
}
