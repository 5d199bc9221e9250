import { describe, expect, it } from "vitest";
import { amount, instant, plainDecimal } from "./parse-fields.ts";

describe("amounts as shops write them", () => {
  it.each([
    ["12.50", "12.50"],
    ["12,50", "12.50"],
    ["12,5", "12.5"],
    ["1,250", "1250"],
    ["1,234.50", "1234.50"],
    ["1.234,50", "1234.50"],
    ["1 234,50", "1234.50"],
    ["€ 9,99", "9.99"],
    ["$1,000,000.00", "1000000.00"],
    ["-3.20", "-3.20"],
  ])("%s reads as %s", (input, plain) => {
    expect(plainDecimal(input)).toBe(plain);
  });

  it("converts to minor units of the currency", () => {
    expect(amount("12,50", "EUR", "price")).toBe(1250);
    expect(amount("1500", "JPY", "price")).toBe(1500);
    expect(amount("1.234", "KWD", "price")).toBe(1234);
    expect(() => amount("twelve", "EUR", "price")).toThrow(/not an amount/);
  });
});

describe("dates as shops write them", () => {
  it("reads ISO, M/D/YYYY H:MM and YYYYMMDD, in UTC when no zone is given", () => {
    expect(instant("12/1/2010 8:26", "d")?.toISOString()).toBe("2010-12-01T08:26:00.000Z");
    expect(instant("19970112", "d")?.toISOString()).toBe("1997-01-12T00:00:00.000Z");
    expect(instant("2025-03-01 09:30:00", "d")?.toISOString()).toBe("2025-03-01T09:30:00.000Z");
    expect(instant("2025-03-01T09:30:00+02:00", "d")?.toISOString()).toBe("2025-03-01T07:30:00.000Z");
  });
  it.each(["13/1/2010 9:56", "19970231", "yesterday", "2025-02-30T00:00:00Z"])("refuses %s", (v) => {
    expect(() => instant(v, "InvoiceDate")).toThrow(/not a date/);
  });
});
