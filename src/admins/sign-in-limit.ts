/**
 * Brakes on guessing passwords. Each sign-in costs a 32 MiB scrypt, so
 * unlimited attempts are both a guessing attack and a way to tie up the CPU:
 * failures are counted per email and per client address over a sliding
 * window, and past the limit attempts are refused (429) without hashing
 * anything. A success clears the email's count. Kept in memory: a restart
 * forgets the counts, which only ever makes the limit more lenient.
 */
import { AppError } from "../shared/index.ts";

export interface SignInLimits {
  /** Failures allowed per email within the window. */
  perEmail: number;
  /** Failures allowed per client address within the window. */
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = { perEmail: 10, perAddress: 50, windowMs: 15 * 60_000 };

export class SignInLimiter {
  readonly #failures = new Map<string, number[]>();

  constructor(readonly limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS) {}

  #recent(key: string, now: number): number[] {
    const kept = (this.#failures.get(key) ?? []).filter((t) => t > now - this.limits.windowMs);
    if (kept.length === 0) this.#failures.delete(key);
    else this.#failures.set(key, kept);
    return kept;
  }

  /** Refuses when the email or the address has failed too often lately. */
  check(email: string, address: string | undefined, now: Date): void {
    const t = now.getTime();
    const byEmail = this.#recent(`e:${email}`, t);
    const byAddress = address ? this.#recent(`a:${address}`, t) : [];
    const blocked = byEmail.length >= this.limits.perEmail ? byEmail : byAddress.length >= this.limits.perAddress ? byAddress : undefined;
    if (blocked) {
      const retry = Math.max(1, Math.ceil(((blocked[0] ?? t) + this.limits.windowMs - t) / 60_000));
      throw new AppError("rate_limited", `too many failed sign-ins; try again in ${retry} minute${retry === 1 ? "" : "s"}`, [], { retryAfterSeconds: retry * 60 });
    }
  }

  failed(email: string, address: string | undefined, now: Date): void {
    for (const key of [`e:${email}`, ...(address ? [`a:${address}`] : [])]) {
      this.#failures.set(key, [...this.#recent(key, now.getTime()), now.getTime()]);
    }
    // Bounded memory under a flood of distinct emails: forget the oldest keys.
    if (this.#failures.size > 100_000) {
      for (const key of [...this.#failures.keys()].slice(0, 50_000)) this.#failures.delete(key);
    }
  }

  succeeded(email: string): void {
    this.#failures.delete(`e:${email}`);
  }
}
