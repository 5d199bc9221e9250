/** Numbers as people read them. Money arrives in minor units (cents) with the workspace currency. */

let currency = "EUR";
export function setCurrency(c: string): void {
  currency = c;
}
export function currentCurrency(): string {
  return currency;
}

function minorDigits(c: string): number {
  return new Intl.NumberFormat("en", { style: "currency", currency: c }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** Minor units as money, in the workspace currency unless `opts.currency` names another (a plan's, say). */
export function money(minor: number | null | undefined, opts: { compact?: boolean; currency?: string } = {}): string {
  if (minor === null || minor === undefined) return "—";
  const c = opts.currency ?? currency;
  const value = minor / 10 ** minorDigits(c);
  return new Intl.NumberFormat("en", {
    style: "currency",
    currency: c,
    ...(opts.compact ? { notation: "compact", maximumFractionDigits: 1 } : {}),
  }).format(value);
}

/** Major units (what a person types) to minor units, in the workspace currency or `c`. */
export function toMinor(major: number, c: string = currency): number {
  return Math.round(major * 10 ** minorDigits(c));
}

export function majorOf(minor: number): number {
  return minor / 10 ** minorDigits(currency);
}

export function pct(x: number | null | undefined, digits = 1): string {
  return x === null || x === undefined ? "—" : `${(x * 100).toFixed(digits)} %`;
}

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? "—" : n.toLocaleString("en");
}

export function decimal(x: number | null | undefined, digits = 2): string {
  return x === null || x === undefined ? "—" : x.toFixed(digits);
}

export function days(x: number | null | undefined): string {
  return x === null || x === undefined ? "—" : `${x < 10 ? x.toFixed(1) : Math.round(x)} d`;
}

/** Relative change from b to a, e.g. "+12.5 %"; null when b is 0 or unknown. */
export function change(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return a / b - 1;
}

/** An ISO time as "YYYY-MM-DD HH:MM" (UTC), for tables. */
export function minuteOf(iso: string): string {
  return iso.slice(0, 16).replace("T", " ");
}
