import { mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { AppError } from "../shared/index.ts";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err instanceof Error && "code" in err && err.code === "EPERM";
  }
}

/**
 * PGlite is a single-process database: two processes on one data folder would
 * corrupt it. A lock file holds the owner's pid; a lock left by a dead process
 * (kill -9) is taken over.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true });
  const file = join(dataDir, "fidelio.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        await rm(file, { force: true });
      };
    } catch (err) {
      if (!(err instanceof Error && "code" in err && err.code === "EEXIST")) throw err;
      const pid = Number((await readFile(file, "utf8").catch(() => "")).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new AppError(
          "busy",
          `the data folder ${dataDir} is in use by process ${pid} (a running Fidelio?). Stop it, or use the HTTP API, or set DATABASE_URL to a PostgreSQL server`,
        );
      }
      await rm(file, { force: true });
    }
  }
  throw new AppError("busy", `cannot lock the data folder ${dataDir}`);
}
