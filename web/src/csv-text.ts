/** Every table can be downloaded as CSV (RFC 4180: quoted when needed, CRLF line ends). */

export type Cell = string | number | null | undefined;

function escape(v: Cell): string {
  if (v === null || v === undefined) return "";
  // Text that a spreadsheet would run as a formula (a channel named "=HYPERLINK(…)")
  // is kept as text with a leading apostrophe (OWASP, CSV injection). Numbers stay numbers.
  const s = typeof v === "string" && /^[=+\-@\t\r]/.test(v) ? `'${v}` : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: string[], rows: Cell[][]): string {
  return [header, ...rows].map((r) => r.map(escape).join(",")).join("\r\n") + "\r\n";
}
