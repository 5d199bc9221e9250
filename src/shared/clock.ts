/**
 * Time is an input. Domain code asks a Clock; tests and backtests use the
 * simulated one and move it forward instead of sleeping.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export class SimulatedClock implements Clock {
  #ms: number;
  constructor(start: Date) {
    this.#ms = start.getTime();
  }
  now(): Date {
    return new Date(this.#ms);
  }
  set(to: Date): void {
    this.#ms = to.getTime();
  }
  advance(ms: number): Date {
    this.#ms += ms;
    return this.now();
  }
}
