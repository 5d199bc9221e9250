/**
 * Serves the built dashboard (web/dist, made by `vite build`): files as they
 * are, hashed assets cached for a year, and index.html for every other path
 * so the app's own routes (/cohorts, /ladder…) load on refresh.
 */
import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Context } from "hono";

export const DEFAULT_WEB_DIR = fileURLToPath(new URL("../../web/dist/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

async function fileOf(dir: string, path: string): Promise<Buffer | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined; // a malformed escape names no file
  }
  const full = normalize(join(dir, decoded));
  if (!full.startsWith(normalize(dir + sep))) return undefined; // no way out of the folder
  return readFile(full).catch(() => undefined);
}

/** A handler for GET requests outside /api, /v1 and /webhooks; `fallback` answers when the dashboard is not built. */
export function dashboard(webDir: string, fallback: (c: Context) => Promise<Response>) {
  return async (c: Context): Promise<Response> => {
    const path = c.req.path;
    const ext = extname(path);
    if (ext && path !== "/index.html") {
      const body = await fileOf(webDir, path);
      if (!body) return c.text("not found", 404);
      const headers: Record<string, string> = { "content-type": TYPES[ext] ?? "application/octet-stream" };
      if (path.startsWith("/assets/")) headers["cache-control"] = "public, max-age=31536000, immutable";
      return c.body(new Uint8Array(body), 200, headers);
    }
    const index = await fileOf(webDir, "index.html");
    if (!index) return fallback(c);
    return c.body(new Uint8Array(index), 200, { "content-type": TYPES[".html"] ?? "text/html", "cache-control": "no-cache" });
  };
}
