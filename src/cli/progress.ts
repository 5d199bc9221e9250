import { SingleBar, Presets } from "cli-progress";

/** A progress bar on a terminal; on a pipe or a log, one line per update (throttled). */
export interface Progress {
  update(done: number, total: number, detail: string): void;
  stop(): void;
}

export function progress(label: string, out: NodeJS.WriteStream = process.stderr): Progress {
  if (out.isTTY) {
    const bar = new SingleBar(
      { format: `${label} [{bar}] {percentage}% | {detail}`, hideCursor: true, clearOnComplete: false, stream: out },
      Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total, detail) {
        if (!started) {
          bar.start(Math.max(total, 1), 0, { detail });
          started = true;
        }
        bar.setTotal(Math.max(total, 1));
        bar.update(Math.min(done, Math.max(total, 1)), { detail });
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = 0;
  return {
    update(done, total, detail) {
      const now = Date.now();
      if (now - last < 1000 && done < total) return;
      last = now;
      const pct = total > 0 ? ` ${Math.floor((100 * done) / total)}%` : "";
      out.write(`${label}${pct}: ${detail}\n`);
    },
    stop() {},
  };
}

/**
 * Work that reports no progress of its own (a fit, a scoring run, an
 * evaluation): a bar at 0 with what is being done, then at 100 % when it ends.
 */
export async function oneStep<T>(label: string, detail: string, work: () => Promise<T>): Promise<T> {
  const bar = progress(label);
  bar.update(0, 1, detail);
  try {
    const result = await work();
    bar.update(1, 1, "done");
    return result;
  } finally {
    bar.stop();
  }
}
