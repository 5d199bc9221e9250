import { AppError } from "../../shared/index.ts";
import { isRealIsoDate, toMinor } from "../../shared/index.ts";
import type { ImportItem } from "./format.ts";

/** A value that could not be read; `field` is the CSV column. */
export class LineError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export function required<T>(v: T | undefined, field: string): T {
  if (v === undefined) throw new LineError(field, "is required");
  return v;
}

/**
 * Decimal separators as shops write them: "1,234.50" and "1.234,50" are both
 * 1234.50; a lone comma is a decimal comma ("12,50") unless exactly three
 * digits follow it ("1,250" is one thousand two hundred and fifty).
 */
export function plainDecimal(v: string): string {
  let s = v.trim().replace(/^[£$€¥]\s*/, "").replace(/[\s\u00a0']/g, "");
  const comma = s.lastIndexOf(",");
  const dot = s.lastIndexOf(".");
  if (comma >= 0 && dot >= 0) s = comma > dot ? s.replace(/\./g, "").replace(",", ".") : s.replace(/,/g, "");
  else if (comma >= 0) {
    const single = s.indexOf(",") === comma;
    s = single && s.length - comma - 1 !== 3 ? s.replace(",", ".") : s.replace(/,/g, "");
  }
  return s;
}

export function amount(v: string | undefined, currency: string, field: string): number | undefined {
  if (v === undefined) return undefined;
  try {
    return toMinor(plainDecimal(v), currency, field);
  } catch (err) {
    throw new LineError(field, err instanceof AppError ? `"${v}" is not an amount` : String(err));
  }
}

export function integer(v: string | undefined, field: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw new LineError(field, `"${v}" is not a whole number`);
  return Number(v);
}

const MDY = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/;
const YMD = /^(\d{4})(\d{2})(\d{2})$/;

/**
 * Dates as shop exports write them: ISO 8601, `M/D/YYYY H:MM` (the UCI
 * Online Retail file) or `YYYYMMDD` (CDNOW). A date without a zone is UTC.
 */
export function instant(v: string | undefined, field: string): Date | undefined {
  if (v === undefined) return undefined;
  let d: Date;
  const mdy = MDY.exec(v);
  const ymd = YMD.exec(v);
  if (mdy) {
    const [, mo, da, y, h, mi, s] = mdy;
    d = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(da), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0)));
    if (d.getUTCMonth() !== Number(mo) - 1 || d.getUTCDate() !== Number(da)) throw new LineError(field, `"${v}" is not a date`);
  } else if (ymd) {
    const [, y, mo, da] = ymd;
    d = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(da)));
    if (d.getUTCMonth() !== Number(mo) - 1 || d.getUTCDate() !== Number(da)) throw new LineError(field, `"${v}" is not a date`);
  } else if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    if (!isRealIsoDate(v.slice(0, 10))) throw new LineError(field, `"${v}" is not a date`);
    const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(v) || /^\d{4}-\d{2}-\d{2}$/.test(v);
    d = new Date(hasZone ? v : `${v.replace(" ", "T")}Z`);
  } else {
    throw new LineError(field, `"${v}" is not a date (ISO 8601, M/D/YYYY H:MM or YYYYMMDD)`);
  }
  if (Number.isNaN(d.getTime())) throw new LineError(field, `"${v}" is not a date`);
  return d;
}

export function boolean(v: string | undefined, field: string): boolean | undefined {
  if (v === undefined) return undefined;
  const s = v.toLowerCase();
  if (["true", "yes", "1", "y", "subscribed", "granted"].includes(s)) return true;
  if (["false", "no", "0", "n", "unsubscribed", "not_subscribed", "revoked"].includes(s)) return false;
  throw new LineError(field, `"${v}" is not yes/no`);
}

/**
 * A LineError or a validation failure as an error item for `line`; anything
 * else is a bug and is rethrown. A record field (`lines.0.unitPriceMinor`) is
 * reported as the file's column (`unit_price`): `columns` names the special
 * cases, the rest is the field in snake case without `_minor`.
 */
export function lineErrorOf(line: number, err: unknown, columns: Record<string, string> = {}): ImportItem {
  if (err instanceof LineError) return { kind: "error", line, field: err.field, message: err.message };
  if (err instanceof AppError) {
    const first = err.issues[0];
    return { kind: "error", line, field: columnOf(first?.field ?? "(line)", columns), message: first?.message ?? err.message };
  }
  throw err;
}

function columnOf(path: string, columns: Record<string, string>): string {
  const direct = columns[path];
  if (direct) return direct;
  const last = path.split(".").filter((p) => !/^\d+$/.test(p)).pop() ?? path;
  const base = last.replace(/Minor$/, "");
  return columns[last] ?? columns[base] ?? base.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
