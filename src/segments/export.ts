/**
 * A segment's members as files: a CSV with chosen columns, and retargeting
 * audiences in the customer-list formats of the ad platforms. Audiences hold
 * only customers who granted consent for advertising (`consent.ads`), and
 * only hashes: emails trimmed and lower-cased, phones in E.164 (parsed with
 * libphonenumber-js, with the shop's country for numbers written without a
 * country code), then SHA-256 in hex.
 *
 * Formats, from the platforms' customer-list help pages:
 * - google (Customer Match CSV): columns Email, Phone; phone hashed as E.164 (+33612345678).
 * - meta (Custom Audience customer list): columns email, phone; phone hashed as digits with
 *   country code and no "+" (33612345678), which is Meta's normalisation.
 * - tiktok (Customer File): columns Email_SHA256, Phone_SHA256; phone hashed as E.164.
 */
import { z } from "zod";
import { parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js";
import type { Queryable } from "../store/index.ts";
import { minorDigits, parseInput, sha256Hex } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { getSegment } from "./segments-store.ts";

export const CSV_COLUMNS = [
  "externalId", "email", "phone", "firstName", "lastName", "birthday", "locale", "timeZone", "acquisitionChannel",
  "orders", "revenue", "netRevenue", "firstOrderAt", "lastOrderAt", "stage", "rfmSegment", "pAlive", "clv", "enteredAt",
] as const;
type CsvColumn = (typeof CSV_COLUMNS)[number];
const DEFAULT_COLUMNS: CsvColumn[] = ["externalId", "email", "firstName", "lastName", "orders", "revenue", "stage", "enteredAt"];

export const AUDIENCE_FORMATS = ["google", "meta", "tiktok"] as const;
export type AudienceFormat = (typeof AUDIENCE_FORMATS)[number];

export const ExportQuery = z.object({
  format: z.enum(["csv", "audience"]).default("csv"),
  columns: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s.trim() === "") return DEFAULT_COLUMNS;
      const out: CsvColumn[] = [];
      for (const part of s.split(",").map((p) => p.trim())) {
        const col = CSV_COLUMNS.find((c) => c === part);
        if (!col) {
          ctx.addIssue({ code: "custom", message: `"${part}" is not a column; use any of ${CSV_COLUMNS.join(", ")}` });
          return z.NEVER;
        }
        out.push(col);
      }
      return out;
    }),
  platform: z.enum(AUDIENCE_FORMATS).default("google"),
  country: z
    .string()
    .regex(/^[A-Za-z]{2}$/, "must be a two-letter country code (ISO 3166-1), e.g. FR")
    .transform((s) => s.toUpperCase())
    .optional()
    .describe("country of phone numbers written without a country code"),
});
export type ExportQuery = z.output<typeof ExportQuery>;

type ExportRow = {
  customer_id: number;
  external_id: string;
  email: string | null;
  phone: string | null;
  first_name: string | null;
  last_name: string | null;
  birthday: string | null;
  locale: string | null;
  time_zone: string | null;
  acquisition_channel: string | null;
  orders: number;
  revenue: number;
  refunded: number;
  first_order_at: Date | null;
  last_order_at: Date | null;
  stage: string | null;
  rfm_segment: string | null;
  p_alive: number | null;
  clv: number | null;
  entered_at: Date;
  ads: boolean | null;
};

const PAGE = 5000;

/** Members a page at a time, in customer id order. */
async function* memberRows(db: Queryable, segmentId: number, adsOnly: boolean): AsyncGenerator<ExportRow[]> {
  let after = 0;
  for (;;) {
    const rows = await db.query<ExportRow>(
      `SELECT c.id AS customer_id, c.external_id, c.email, c.phone, c.first_name, c.last_name, c.birthday, c.locale, c.time_zone,
              c.acquisition_channel, COALESCE(r.order_count, 0) AS orders, COALESCE(r.revenue_minor, 0) AS revenue,
              COALESCE(r.refunded_minor, 0) AS refunded, r.first_order_at, r.last_order_at, s.stage, s.rfm_segment, s.p_alive,
              s.clv_minor AS clv, m.entered_at, k.granted AS ads
         FROM segment_memberships m JOIN customers c ON c.id = m.customer_id
         LEFT JOIN customer_rollups r ON r.customer_id = c.id
         LEFT JOIN customer_scores s ON s.workspace_id = c.workspace_id AND s.customer_id = c.id
         LEFT JOIN customer_consents k ON k.customer_id = c.id AND k.channel = 'ads'
        WHERE m.segment_id = $1 AND m.exited_at IS NULL AND m.customer_id > $2 ${adsOnly ? "AND k.granted" : ""}
        ORDER BY m.customer_id LIMIT $3`,
      [segmentId, after, PAGE],
    );
    if (rows.length === 0) return;
    yield rows;
    after = rows.at(-1)?.customer_id ?? after;
    if (rows.length < PAGE) return;
  }
}

/** One CSV field (RFC 4180), with a leading = + - @ defused so a spreadsheet does not run it as a formula. */
export function csvField(value: string | number | null): string {
  if (value === null) return "";
  let s = String(value);
  // A negative amount is a number, not a formula.
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(s) && !/^-\d+(\.\d+)?$/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const csvLine = (fields: (string | number | null)[]) => `${fields.map(csvField).join(",")}\r\n`;

function money(minor: number | null, currency: string): string | null {
  if (minor === null) return null;
  const d = minorDigits(currency);
  return (minor / 10 ** d).toFixed(d);
}

function cell(r: ExportRow, col: CsvColumn, currency: string): string | number | null {
  switch (col) {
    case "externalId": return r.external_id;
    case "email": return r.email;
    case "phone": return r.phone;
    case "firstName": return r.first_name;
    case "lastName": return r.last_name;
    case "birthday": return r.birthday;
    case "locale": return r.locale;
    case "timeZone": return r.time_zone;
    case "acquisitionChannel": return r.acquisition_channel;
    case "orders": return Number(r.orders);
    case "revenue": return money(Number(r.revenue), currency);
    case "netRevenue": return money(Number(r.revenue) - Number(r.refunded), currency);
    case "firstOrderAt": return r.first_order_at?.toISOString() ?? null;
    case "lastOrderAt": return r.last_order_at?.toISOString() ?? null;
    case "stage": return r.stage;
    case "rfmSegment": return r.rfm_segment;
    case "pAlive": return r.p_alive === null ? null : Number(r.p_alive).toFixed(4);
    case "clv": return money(r.clv === null ? null : Number(r.clv), currency);
    case "enteredAt": return r.entered_at.toISOString();
  }
}

const header = (col: CsvColumn, currency: string) => (["revenue", "netRevenue", "clv"].includes(col) ? `${col}_${currency}` : col);

/** Email as the platforms normalise it before hashing: trimmed, lower-cased. */
export function normaliseEmail(email: string | null): string | null {
  const e = email?.trim().toLowerCase() ?? "";
  return e.includes("@") ? e : null;
}

/** A phone in E.164 (+33612345678), or null when it is not a valid number. */
export function normalisePhone(phone: string | null, country: string | undefined): string | null {
  if (!phone || phone.trim() === "") return null;
  const raw = phone.trim().replace(/^00/, "+");
  const parsed = parsePhoneNumberFromString(raw, isCountryCode(country) ? country : undefined);
  return parsed && parsed.isValid() ? parsed.number : null;
}

function isCountryCode(c: string | undefined): c is CountryCode {
  return c !== undefined && /^[A-Z]{2}$/.test(c);
}

const AUDIENCE_HEADERS: Record<AudienceFormat, [string, string]> = {
  google: ["Email", "Phone"],
  meta: ["email", "phone"],
  tiktok: ["Email_SHA256", "Phone_SHA256"],
};

export interface ExportSummary {
  /** Rows written. */
  rows: number;
  /** Audience: members left out because they have not granted consent for ads. */
  withoutAdsConsent: number;
  /** Audience: members with neither a usable email nor a phone. */
  unreachable: number;
  /** Audience: phones that are not valid numbers (their email may still be used). */
  invalidPhones: number;
}

/**
 * Writes a segment export through `write` a chunk at a time (for a file,
 * an HTTP stream or a test), and returns what it wrote.
 */
export async function exportSegment(
  db: Queryable,
  ws: Workspace,
  segmentId: number,
  query: unknown,
  write: (chunk: string) => void | Promise<void>,
): Promise<ExportSummary> {
  const q = parseInput(ExportQuery, query);
  const seg = await getSegment(db, ws, segmentId);
  const summary: ExportSummary = { rows: 0, withoutAdsConsent: 0, unreachable: 0, invalidPhones: 0 };
  if (q.format === "csv") {
    await write(csvLine(q.columns.map((c) => header(c, ws.currency))));
    for await (const page of memberRows(db, segmentId, false)) {
      await write(page.map((r) => csvLine(q.columns.map((c) => cell(r, c, ws.currency)))).join(""));
      summary.rows += page.length;
    }
    return summary;
  }
  await write(csvLine(AUDIENCE_HEADERS[q.platform]));
  let consenting = 0;
  for await (const page of memberRows(db, segmentId, true)) {
    consenting += page.length;
    let out = "";
    for (const r of page) {
      const email = normaliseEmail(r.email);
      const e164 = normalisePhone(r.phone, q.country);
      if (r.phone && r.phone.trim() !== "" && !e164) summary.invalidPhones += 1;
      if (!email && !e164) {
        summary.unreachable += 1;
        continue;
      }
      const phone = e164 ? (q.platform === "meta" ? e164.slice(1) : e164) : null;
      out += csvLine([email ? sha256Hex(email) : "", phone ? sha256Hex(phone) : ""]);
      summary.rows += 1;
    }
    await write(out);
  }
  summary.withoutAdsConsent = seg.size - consenting;
  return summary;
}
