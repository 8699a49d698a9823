// `npm run vendor`: copies three.js's ES module build (and the core file it imports) with its licence into
// vendor/, which is committed: the page then loads nothing from npm or a CDN at run time.
import { copyFileSync, mkdirSync } from "node:fs";

const from = new URL("./node_modules/three/", import.meta.url);
const to = new URL("./vendor/", import.meta.url);
mkdirSync(to, { recursive: true });
for (const [source, target] of [
  ["build/three.module.js", "three.module.js"],
  ["build/three.core.js", "three.core.js"],
  ["LICENSE", "three.LICENSE"],
]) {
  copyFileSync(new URL(source, from), new URL(target, to));
  console.log(`vendor/${target}`);
}
