// Debian's chromium, headless, through playwright-core (which downloads no browser).
// The flags keep it off the network (this machine's is closed) and let a WAV stand in for the microphone.
import { chromium } from "playwright-core";

export async function launch({ fakeAudio = null, extraArgs = [] } = {}) {
  const args = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    ...extraArgs,
  ];
  if (fakeAudio) args.push(`--use-file-for-fake-audio-capture=${fakeAudio}`);
  return chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args });
}

// A new page and the list it fills with uncaught page errors and console errors.
export async function openPage(browser, viewport) {
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => message.type() === "error" && errors.push(`console: ${message.text()}`));
  return { page, errors };
}
