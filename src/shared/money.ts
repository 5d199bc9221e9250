import { invalidField } from "./errors.ts";

/** ISO 4217 codes that this Node knows (Intl is the registry; no table to keep). */
const knownCurrencies = new Set(Intl.supportedValuesOf("currency"));
const digitsCache = new Map<string, number>();

export function isCurrency(code: string): boolean {
  return knownCurrencies.has(code);
}

/** Number of minor-unit digits: EUR 2, JPY 0, KWD 3. */
export function minorDigits(currency: string): number {
  let d = digitsCache.get(currency);
  if (d === undefined) {
    d = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
    digitsCache.set(currency, d);
  }
  return d;
}

/** Validates and upper-cases a currency code, naming `field` when it is wrong. */
export function parseCurrency(value: unknown, field: string): string {
  if (typeof value !== "string" || value.trim() === "") throw invalidField(field, "currency is required (ISO 4217 code such as EUR)");
  const code = value.trim().toUpperCase();
  if (!isCurrency(code)) throw invalidField(field, `unknown currency "${value}"`);
  return code;
}

/**
 * Converts a decimal amount ("12.34", 12.34) to integer minor units without
 * floating-point drift: the string form is parsed digit by digit.
 */
export function toMinor(amount: number | string, currency: string, field: string): number {
  const digits = minorDigits(currency);
  const text = typeof amount === "number" ? numberToPlain(amount) : amount.trim();
  const m = /^(-)?(\d*)(?:\.(\d*))?$/.exec(text);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) throw invalidField(field, `"${String(amount)}" is not an amount`);
  const neg = m[1] === "-";
  const whole = m[2] === "" || m[2] === undefined ? "0" : m[2];
  const frac = (m[3] ?? "").padEnd(digits + 1, "0");
  let minor = Number(whole) * 10 ** digits + Number(frac.slice(0, digits) || "0");
  // Round half away from zero on the first dropped digit.
  if (Number(frac[digits] ?? "0") >= 5) minor += 1;
  if (!Number.isSafeInteger(minor)) throw invalidField(field, `amount ${String(amount)} is too large`);
  return neg ? -minor : minor;
}

function numberToPlain(n: number): string {
  if (!Number.isFinite(n)) return "NaN";
  // toFixed(10) avoids exponent notation for small and large values alike.
  return n.toFixed(10).replace(/0+$/, "").replace(/\.$/, "");
}

/** Formats minor units for people, e.g. 1234 EUR → "€12.34". */
export function formatMoney(minor: number, currency: string, locale = "en"): string {
  const digits = minorDigits(currency);
  return new Intl.NumberFormat(locale, { style: "currency", currency }).format(minor / 10 ** digits);
}
