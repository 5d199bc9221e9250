#!/usr/bin/env node
// Builds the dashboard (web/ → web/dist) with Vite when its sources are newer
// than the last build, so `npm start` is quick after the first time.
// `--force` always builds.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const web = fileURLToPath(new URL("../web/", import.meta.url));
const force = process.argv.includes("--force");

async function newest(path) {
  const s = await stat(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let m = 0;
  for (const entry of await readdir(path)) m = Math.max(m, await newest(join(path, entry)));
  return m;
}

const built = await stat(join(web, "dist", "index.html")).then((s) => s.mtimeMs, () => 0);
const sources = Math.max(await newest(join(web, "src")), await newest(join(web, "index.html")), await newest(join(web, "vite.config.ts")));
if (!force && built > sources) process.exit(0);

process.stdout.write("Building the dashboard (web/ → web/dist)… ");
const started = Date.now();
const { build } = await import("vite");
try {
  await build({ configFile: join(web, "vite.config.ts"), logLevel: "warn" });
} catch (err) {
  console.error(`\nThe dashboard did not build: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
