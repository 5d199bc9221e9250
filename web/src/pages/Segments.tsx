import { useQuery } from "@tanstack/react-query";
import { api } from "../api.ts";
import { count, minuteOf } from "../format.ts";
import type { Segment } from "../types.ts";
import { ErrorBox, Loading } from "../components/States.tsx";
import { BarChart } from "../components/Charts.tsx";

/** Every segment with its size, as a chart and a table; open one, or start a new one. */
export function Segments(props: { open: (id: number | "new") => void }) {
  const list = useQuery({ queryKey: ["segments"], queryFn: () => api<Segment[]>("/api/segments") });
  if (list.isPending) return <Loading what="segments" />;
  if (list.isError) return <ErrorBox error={list.error} retry={() => void list.refetch()} />;
  const segments = list.data;
  const link = (id: number, text: string) => (
    <a
      href={`/segments/${id}`}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        props.open(id);
      }}
    >
      {text}
    </a>
  );
  return (
    <>
      <div className="actions">
        <button type="button" onClick={() => props.open("new")} data-testid="new-segment">
          New segment
        </button>
      </div>
      {segments.length > 0 ? (
        <section className="card">
          <h2>Members per segment</h2>
          <BarChart
            label="Members per segment"
            horizontal
            height={Math.max(180, segments.length * 28)}
            labels={segments.map((s) => s.name)}
            series={[{ label: "Members", data: segments.map((s) => s.size) }]}
            format={(v) => count(v)}
          />
        </section>
      ) : null}
      <section className="card table-card">
        <div className="table-scroll">
          <table data-testid="segments-table">
            <thead>
              <tr>
                <th scope="col">Segment</th>
                <th scope="col" className="num">Members</th>
                <th scope="col">Kind</th>
                <th scope="col">Last evaluated</th>
              </tr>
            </thead>
            <tbody>
              {segments.map((s) => (
                <tr key={s.id} data-testid={`segment-${s.id}`}>
                  <td>
                    {link(s.id, s.name)}
                    {s.description ? <div className="sub">{s.description}</div> : null}
                  </td>
                  <td className="num" data-value={s.size}>{count(s.size)}</td>
                  <td>{s.builtIn ? "built-in" : "custom"}{s.timeRelative ? " · moves with time" : ""}</td>
                  <td>{s.evaluatedAt ? minuteOf(s.evaluatedAt) : "not yet"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}
