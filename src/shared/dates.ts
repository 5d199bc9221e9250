/**
 * True when an ISO 8601 text's calendar date exists. `Date.parse` quietly rolls
 * 2025-02-30 over to March 2; a shop's data should be refused instead.
 */
export function isRealIsoDate(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(text.trim());
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const probe = new Date(Date.UTC(y, mo - 1, d));
  return probe.getUTCFullYear() === y && probe.getUTCMonth() === mo - 1 && probe.getUTCDate() === d && !Number.isNaN(Date.parse(text));
}

/** A day and nothing more, `YYYY-MM-DD`, that exists on the calendar. */
export function isIsoDay(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) && isRealIsoDate(text);
}
