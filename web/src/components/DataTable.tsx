import type { ReactNode } from "react";
import { downloadCsv, type Cell } from "../csv.ts";

export interface Column<R> {
  label: string;
  /** The value in the CSV file (raw numbers, not formatted). */
  csv: (row: R) => Cell;
  /** What the table shows (default: the CSV value). */
  show?: (row: R) => ReactNode;
  numeric?: boolean;
}

export function DataTable<R>(props: { title: string; filename: string; columns: Column<R>[]; rows: R[]; note?: ReactNode }) {
  const { columns, rows } = props;
  return (
    <section className="card table-card">
      <header className="card-head">
        <h2>{props.title}</h2>
        <button
          type="button"
          className="secondary"
          onClick={() => downloadCsv(props.filename, columns.map((c) => c.label), rows.map((r) => columns.map((c) => c.csv(r))))}
        >
          Download CSV
        </button>
      </header>
      {props.note ? <p className="note">{props.note}</p> : null}
      <div className="table-scroll">
        <table>
          <thead>
            <tr>
              {columns.map((c) => (
                <th key={c.label} className={c.numeric ? "num" : undefined} scope="col">
                  {c.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i}>
                {columns.map((c) => (
                  <td key={c.label} className={c.numeric ? "num" : undefined}>
                    {c.show ? c.show(r) : String(c.csv(r) ?? "")}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
