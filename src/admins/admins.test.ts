import { describe, expect, it } from "vitest";
import { hashPassword, SignInLimiter, verifyPassword } from "./index.ts";

describe("passwords", () => {
  it("hash with a fresh salt each time and verify only the right password", async () => {
    const a = await hashPassword("correct horse battery");
    const b = await hashPassword("correct horse battery");
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(a).not.toBe(b);
    await expect(verifyPassword("correct horse battery", a)).resolves.toBe(true);
    await expect(verifyPassword("correct horse batterY", a)).resolves.toBe(false);
    await expect(verifyPassword("x", "not a hash")).resolves.toBe(false);
  });
});

describe("sign-in limits", () => {
  const t0 = new Date("2026-01-01T00:00:00Z");
  const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000);

  it("refuse an email after its failures, over a sliding window, and forget them on success", () => {
    const l = new SignInLimiter({ perEmail: 3, perAddress: 100, windowMs: 10 * 60_000 });
    for (let m = 0; m < 3; m++) {
      l.check("a@x", "1.1.1.1", at(m));
      l.failed("a@x", "1.1.1.1", at(m));
    }
    expect(() => l.check("a@x", "2.2.2.2", at(5))).toThrow(/try again in 5 minutes/);
    expect(() => l.check("b@x", "1.1.1.1", at(5))).not.toThrow(); // another email from the same address
    expect(() => l.check("a@x", "1.1.1.1", at(10.5))).not.toThrow(); // the first failure left the window
    l.succeeded("a@x");
    l.failed("a@x", undefined, at(11));
    expect(() => l.check("a@x", undefined, at(11))).not.toThrow();
  });

  it("refuse an address that tries many emails", () => {
    const l = new SignInLimiter({ perEmail: 100, perAddress: 2, windowMs: 60_000 });
    l.failed("a@x", "9.9.9.9", t0);
    l.failed("b@x", "9.9.9.9", t0);
    expect(() => l.check("c@x", "9.9.9.9", t0)).toThrow(expect.objectContaining({ code: "rate_limited" }));
    expect(() => l.check("c@x", "8.8.8.8", t0)).not.toThrow();
  });
});
