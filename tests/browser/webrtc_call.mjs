// A WebRTC call to the avatar from headless chromium (streaming/web/call.html), against a running `talkinghead serve`.
//   node webrtc_call.mjs PAGE_URL WAV SCREENSHOT [SECONDS]
// The WAV is the fake microphone. The script presses Call, waits for the connection, lets the call run
// SECONDS (default 4), reads the receiving side of pc.getStats(), takes a screenshot, hangs up, and prints
// one JSON line: the inbound video and audio stats, the call's states and page errors.
import { launch, openPage } from "./launch.mjs";

const [page_url, wav, screenshot, seconds = "4"] = process.argv.slice(2);
const browser = await launch({ fakeAudio: wav });
try {
  const { page, errors } = await openPage(browser, { width: 800, height: 700 });
  await page.goto(page_url, { waitUntil: "load" });
  await page.click("#call");
  await page.waitForFunction(() => window.avatarCall?.pc.connectionState === "connected", null,
    { timeout: 20000, polling: 50 });
  await page.waitForTimeout(Number(seconds) * 1000);
  const result = await page.evaluate(async () => {
    const stats = [...(await window.avatarCall.pc.getStats()).values()];
    const inbound = (kind) => stats.find((s) => s.type === "inbound-rtp" && s.kind === kind) || null;
    const video = document.getElementById("avatar");
    return {
      video: inbound("video"), audio: inbound("audio"),
      element: { width: video.videoWidth, height: video.videoHeight, time: video.currentTime },
      tracks: window.avatarCall.stream.getTracks().map((t) => t.kind),
      state: window.avatarCall.pc.connectionState,
    };
  });
  await page.screenshot({ path: screenshot });
  await page.click("#hangup");
  result.afterHangUp = await page.evaluate(() => window.avatarCall === null);
  console.log(JSON.stringify({ ...result, errors }));
} finally {
  await browser.close();
}
