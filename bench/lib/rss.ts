/** Samples the process's resident set size at a fixed interval. */
export class RssSampler {
  readonly samples: { at: number; rss: number }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #peak = 0;
  #windowPeak = 0;

  start(intervalMs = 250): void {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  sample(): number {
    const rss = process.memoryUsage.rss();
    this.samples.push({ at: performance.now(), rss });
    if (rss > this.#peak) this.#peak = rss;
    if (rss > this.#windowPeak) this.#windowPeak = rss;
    return rss;
  }

  /** Highest RSS seen since the last call (or since start). */
  takeWindowPeak(): number {
    const p = Math.max(this.#windowPeak, process.memoryUsage.rss());
    this.#windowPeak = 0;
    return p;
  }

  get peak(): number {
    return this.#peak;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.sample();
  }
}

/** Peak RSS of the whole process so far (getrusage), in bytes. */
export function processPeakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}
