// The browser live avatar (streaming/web) in chromium without WebGL: the 3D view must say so, the page go on.
//   node web_no_webgl.mjs BASE_URL
// Prints one JSON line: the 3D view's error and text, the avatars offered, and uncaught page errors.
import { launch } from "./launch.mjs";

const [base] = process.argv.slice(2);
const browser = await launch({ extraArgs: ["--disable-3d-apis"] });
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(base, { waitUntil: "load" });
  await page.waitForFunction(() => window.talkinghead && window.talkinghead.face, null, { timeout: 20000 });
  const view = await page.evaluate(() => ({
    error: window.talkinghead.face.error,
    text: document.getElementById("face3d").textContent,
    avatars: [...document.getElementById("avatar").options].map((option) => option.value),
  }));
  console.log(JSON.stringify({ ...view, errors }));
} finally {
  await browser.close();
}
