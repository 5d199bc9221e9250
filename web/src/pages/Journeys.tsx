import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api.ts";
import { count, minuteOf } from "../format.ts";
import type { Journey } from "../types.ts";
import { ErrorBox, Loading } from "../components/States.tsx";
import { BarChart } from "../components/Charts.tsx";

interface ReadyMade {
  key: string;
  name: string;
  description: string;
  trigger: string;
  steps: number;
}

const TRIGGER_LABEL: Record<string, string> = {
  event: "an event",
  segment: "a segment",
  date: "a date",
  schedule: "a schedule",
  overdue: "overdue on own rhythm",
  replenishment: "running out",
};

const BLANK = {
  trigger: { type: "event", event: "Order Completed" },
  reentry: { policy: "once" },
  start: "wait",
  steps: [
    { id: "wait", type: "wait", duration: { days: 1 }, next: "email" },
    { id: "email", type: "send", channel: "email", purpose: "marketing", email: { subject: "Hello {{ customer.first_name }}", body: "<mj-section><mj-column><mj-text>Hello {{ customer.first_name }},</mj-text></mj-column></mj-section>" } },
  ],
};

/** Every journey with its state, the ready-made ones to install, and a blank one to start from. */
export function Journeys(props: { open: (id: number) => void }) {
  const qc = useQueryClient();
  const list = useQuery({ queryKey: ["journeys"], queryFn: () => api<Journey[]>("/api/journeys") });
  const ready = useQuery({ queryKey: ["journeys-ready-made"], queryFn: () => api<ReadyMade[]>("/api/journeys/ready-made") });
  const install = useMutation({
    mutationFn: (key: string) => api<Journey>(`/api/journeys/ready-made/${key}`, { method: "POST" }),
    onSuccess: (j) => {
      void qc.invalidateQueries({ queryKey: ["journeys"] });
      props.open(j.id);
    },
  });
  const blank = useMutation({
    mutationFn: () => api<Journey>("/api/journeys", { method: "POST", body: { name: `New journey ${new Date().toISOString().slice(0, 16).replace("T", " ")}`, definition: BLANK } }),
    onSuccess: (j) => {
      void qc.invalidateQueries({ queryKey: ["journeys"] });
      props.open(j.id);
    },
  });
  if (list.isPending || ready.isPending) return <Loading what="journeys" />;
  if (list.isError) return <ErrorBox error={list.error} retry={() => void list.refetch()} />;
  if (ready.isError) return <ErrorBox error={ready.error} />;
  const journeys = list.data;
  const link = (j: Journey) => (
    <a
      href={`/journeys/${j.id}`}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        props.open(j.id);
      }}
    >
      {j.name}
    </a>
  );
  return (
    <>
      <div className="actions">
        <button type="button" onClick={() => blank.mutate()} disabled={blank.isPending} data-testid="new-journey">
          New journey
        </button>
      </div>
      {blank.isError ? <ErrorBox error={blank.error} /> : null}
      {journeys.length > 0 ? (
        <>
          <section className="card">
            <h2>Customers inside each journey now</h2>
            <BarChart label="Customers inside each journey" horizontal height={Math.max(160, journeys.length * 28)} labels={journeys.map((j) => j.name)} series={[{ label: "Inside", data: journeys.map((j) => j.inside) }]} format={(v) => count(v)} />
          </section>
          <section className="card table-card">
            <div className="table-scroll">
              <table data-testid="journeys-table">
                <thead>
                  <tr>
                    <th scope="col">Journey</th>
                    <th scope="col">Status</th>
                    <th scope="col">Starts on</th>
                    <th scope="col" className="num">Version</th>
                    <th scope="col" className="num">Inside now</th>
                    <th scope="col">Changed</th>
                  </tr>
                </thead>
                <tbody>
                  {journeys.map((j) => (
                    <tr key={j.id} data-testid={`journey-${j.id}`}>
                      <td>{link(j)}</td>
                      <td>
                        <span className={`badge status-${j.status}`}>{j.status}</span>
                      </td>
                      <td>{TRIGGER_LABEL[j.definition.trigger.type] ?? j.definition.trigger.type}</td>
                      <td className="num">{j.version}</td>
                      <td className="num">{count(j.inside)}</td>
                      <td>{minuteOf(j.updatedAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        </>
      ) : (
        <p className="lead">No journey yet. Start from a ready-made one below: each is installed as a draft you can read, change and backtest before switching it on.</p>
      )}
      <h2>Ready-made journeys</h2>
      {install.isError ? <ErrorBox error={install.error} /> : null}
      <div className="ready-grid">
        {ready.data.map((r) => (
          <section key={r.key} className="card ready" data-testid={`ready-${r.key}`}>
            <h3>{r.name}</h3>
            <p>{r.description}</p>
            <p className="sub">
              Starts on {TRIGGER_LABEL[r.trigger] ?? r.trigger} · {r.steps} steps
            </p>
            <button type="button" className="secondary" onClick={() => install.mutate(r.key)} disabled={install.isPending}>
              Install as a draft
            </button>
          </section>
        ))}
      </div>
    </>
  );
}
