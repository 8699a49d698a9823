// The browser live avatar (streaming/web) in headless chromium, against a running `talkinghead serve`.
//   node web_page.mjs BASE_URL mic|file WAV SCREENSHOT [FRAMES]
// mic: the WAV is the fake microphone (chromium loops it); the page's Microphone button is pressed, the
// script waits for FRAMES drawn frames, presses Interrupt, waits up to 3 s for 3 more frames, then Stop. file: the WAV goes into the page's file input and the script waits
// for the session to end and its last frame to be drawn. Prints one JSON line: the page's counters, how
// the canvas and the 3D face changed, page errors, and for file the draws on the audio clock.
import { launch, openPage } from "./launch.mjs";

const [base, mode, wav, screenshot, wanted = "40"] = process.argv.slice(2);
const browser = await launch({
  fakeAudio: mode === "mic" ? wav : null,
  extraArgs: ["--enable-unsafe-swiftshader", "--use-angle=swiftshader"], // WebGL without a GPU
});
try {
  const { page, errors } = await openPage(browser, { width: 1000, height: 760 });
  await page.goto(base, { waitUntil: "load" });
  await page.waitForFunction(() => window.talkinghead && window.talkinghead.face, null, { timeout: 20000 });

  if (mode === "mic") await page.click("#mic");
  else await page.setInputFiles("#file", wav);

  const drawn = (n) => page.waitForFunction((n) => (window.talkinghead.stats?.drawn ?? 0) >= n, Number(n),
    { timeout: 30000, polling: 100 });
  await drawn(5);
  const early = await page.evaluate(() => window.talkinghead.canvasSignature());
  const faceEarly = await page.evaluate(() => ({ updates: window.talkinghead.face.updates }));
  let largest = 0; // the 3D face's largest vertex offset from its neutral, over the run
  const watch = setInterval(async () => {
    const d = await page.evaluate(() => window.talkinghead.face.displacement).catch(() => 0);
    largest = Math.max(largest, d);
  }, 100);
  let late = null;
  let afterInterrupt = null; // frames received in the 3 s after Interrupt (mic)
  if (mode === "mic") {
    await drawn(wanted);
    late = await page.evaluate(() => window.talkinghead.canvasSignature());
    await page.screenshot({ path: screenshot });
    await page.click("#interrupt");
    await page.waitForFunction(() => window.talkinghead.stats.interrupted, null, { timeout: 10000, polling: 50 });
    const after = await page.evaluate(() => window.talkinghead.stats.received);
    await page.waitForFunction((n) => window.talkinghead.stats.received >= n, after + 3, { timeout: 3000 })
      .catch(() => null); // how many came is reported, not required here
    afterInterrupt = (await page.evaluate(() => window.talkinghead.stats.received)) - after;
    await page.click("#stop");
  }
  await page.waitForFunction(() => {
    const { stats } = window.talkinghead;
    return stats.ended && stats.queued === 0;
  }, null, { timeout: 45000, polling: 100 });
  clearInterval(watch);
  if (mode === "file") {
    late = await page.evaluate(() => window.talkinghead.canvasSignature());
    await page.screenshot({ path: screenshot });
  }
  const result = await page.evaluate(() => {
    const { stats, face } = window.talkinghead;
    return {
      stats: { ...stats, draws: undefined, latencies: undefined, syncErrors: undefined },
      draws: stats.draws,
      face: { vertices: face.vertices, updates: face.updates, error: face.error },
      counters: Object.fromEntries([...document.querySelectorAll("#counters td")].map((td) => [td.id, td.textContent])),
    };
  });
  const change = early.grid.reduce((sum, v, i) => sum + Math.abs(v - late.grid[i]), 0) / early.grid.length;
  console.log(JSON.stringify({
    ...result, canvas: { early, late, change }, faceEarlyUpdates: faceEarly.updates, faceLargest: largest, afterInterrupt, errors,
  }));
} finally {
  await browser.close();
}
