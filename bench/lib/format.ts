export const int = (n: number): string => Math.round(n).toLocaleString("en");
export const mb = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(0)} MB`;
export const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
/** Under a second in whole milliseconds, else seconds: for answers measured in ms. */
export const duration = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : secs(ms));

/** A plain-text table with left-aligned columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
