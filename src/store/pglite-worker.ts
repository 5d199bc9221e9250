/**
 * PGlite runs here, in a worker thread, because a PGlite query blocks the
 * thread it runs on for its whole duration (3.2 s stalls measured in the main
 * thread, see ../../ARCHITECTURE.md). The main thread talks to it by messages.
 */
import { parentPort, workerData } from "node:worker_threads";
import { PGlite } from "@electric-sql/pglite";
import { typeParsers } from "./store.ts";

interface Request {
  id: number;
  op: "query" | "exec" | "dump" | "close" | "copy" | "copyOut";
  sql?: string;
  params?: unknown[];
  /** COPY … FROM '/dev/blob' data (copy). */
  data?: Uint8Array;
}

const port = parentPort;
if (!port) throw new Error("pglite-worker must run in a worker thread");

const init: { dataDir?: string; loadDataDir?: Uint8Array } = workerData ?? {};

/**
 * PostgreSQL's buffer pool inside PGlite's WASM memory, which never shrinks.
 * The default 128 MB is resident from the moment the store opens (~300 MB
 * RSS for PGlite, against ~190 MB with 32 MB). Pages outside the pool come
 * from the OS's file cache, so a smaller pool measured no slower here: on
 * 2026-11-24, paired runs with 128 MB then 32 MB gave tracking 6,907/7,068
 * → 7,146/6,985 events/s, a million-line import 52,589 → 52,797 lines/s,
 * and a million customers' models run 9.9 → 9.3–9.8 s with peak RSS
 * 953–998 → 835–865 MB (docs/benchmarks.md).
 */
const SHARED_BUFFERS = "32MB";

const db = await PGlite.create({
  startParams: [...PGlite.defaultStartParams, "-c", `shared_buffers=${SHARED_BUFFERS}`],
  ...(init.dataDir ? { dataDir: init.dataDir } : {}),
  ...(init.loadDataDir ? { loadDataDir: new Blob([init.loadDataDir]) } : {}),
  parsers: typeParsers,
});
// Sessions in UTC, as on PostgreSQL (postgres.ts).
await db.exec("SET TIME ZONE 'UTC'");

function errorOf(err: unknown): { message: string; code?: string; constraint?: string } {
  if (err instanceof Error) {
    const fields: Record<string, unknown> = { ...err };
    return {
      message: err.message,
      ...(typeof fields.code === "string" ? { code: fields.code } : {}),
      ...(typeof fields.constraint === "string" ? { constraint: fields.constraint } : {}),
    };
  }
  return { message: String(err) };
}

port.on("message", async (req: Request) => {
  try {
    switch (req.op) {
      case "query": {
        const res = await db.query(req.sql ?? "", req.params ?? []);
        port.postMessage({ id: req.id, rows: res.rows });
        break;
      }
      case "copy":
        await db.query(req.sql ?? "", [], { blob: new Blob([req.data ?? new Uint8Array(0)]) });
        port.postMessage({ id: req.id, rows: [] });
        break;
      case "copyOut": {
        const res = await db.query(req.sql ?? "");
        const data = new Uint8Array(res.blob ? await res.blob.arrayBuffer() : new ArrayBuffer(0));
        port.postMessage({ id: req.id, data }, [data.buffer]);
        break;
      }
      case "exec":
        await db.exec(req.sql ?? "");
        port.postMessage({ id: req.id, rows: [] });
        break;
      case "dump": {
        const blob = await db.dumpDataDir("gzip");
        port.postMessage({ id: req.id, data: new Uint8Array(await blob.arrayBuffer()) });
        break;
      }
      case "close":
        await db.close();
        port.postMessage({ id: req.id, rows: [] });
        break;
    }
  } catch (err) {
    port.postMessage({ id: req.id, error: errorOf(err) });
  }
});

port.postMessage({ ready: true });
