/**
 * A background pass repeated on a timer: run now (unless told not to) and every `everyMs`, never
 * two at once (a tick that finds the last pass still running is skipped),
 * with a timer that does not keep the process alive. A failing pass is
 * reported and the next tick tries again.
 */
export interface Repeating {
  stop(): void;
  /** Resolves when the pass in flight (if any) has finished. */
  idle(): Promise<void>;
}

/** `startNow: false` waits one interval before the first pass (work that would only compete with start-up). */
export function repeatEvery(everyMs: number, pass: () => Promise<void>, onError: (err: unknown) => void, options: { startNow?: boolean } = {}): Repeating {
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = pass()
      .catch(onError)
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, everyMs);
  timer.unref();
  if (options.startNow ?? true) tick();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
    async idle() {
      await running;
    },
  };
}
