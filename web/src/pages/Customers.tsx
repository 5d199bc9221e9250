import { useState, type FormEvent } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, query } from "../api.ts";
import { count, days, money, pct } from "../format.ts";
import type { CustomerListItem, ScoreOverview, Segment } from "../types.ts";
import { ErrorBox, Loading } from "../components/States.tsx";
import { StageBadge, SignalMarks, STAGE_LABELS, SIGNAL_KEYS, SIGNAL_LABELS } from "../components/Scores.tsx";
import { OffsetPager } from "../components/Pager.tsx";

const PAGE = 50;
const SORTS = [
  { value: "revenue", label: "Net revenue" },
  { value: "clv", label: "Predicted CLV" },
  { value: "probabilityAlive", label: "Probability alive" },
  { value: "lastOrder", label: "Days since last order" },
  { value: "orders", label: "Orders" },
] as const;

/** Customers with their stage, RFM, predictions and churn signals: search, filter, sort, page. */
export function Customers(props: { open: (externalId: string) => void }) {
  const [typed, setTyped] = useState("");
  const [search, setSearch] = useState("");
  const [stage, setStage] = useState("");
  const [rfm, setRfm] = useState("");
  const [signal, setSignal] = useState("");
  const [segment, setSegment] = useState("");
  const segments = useQuery({ queryKey: ["segments"], queryFn: () => api<Segment[]>("/api/segments") });
  const [sort, setSort] = useState("revenue");
  const [order, setOrder] = useState<"asc" | "desc">("desc");
  const [offset, setOffset] = useState(0);
  const overview = useQuery({ queryKey: ["models"], queryFn: () => api<{ scores: ScoreOverview }>("/api/models") });
  const params = { search, stage, rfm, signal, segment, sort, order, limit: PAGE, offset };
  const list = useQuery({
    queryKey: ["customers", params],
    queryFn: () => api<{ total: number; items: CustomerListItem[] }>(`/api/customers${query(params)}`),
    placeholderData: keepPreviousData,
  });
  const reset = (f: () => void) => {
    f();
    setOffset(0);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    reset(() => setSearch(typed.trim()));
  };
  const byStage = overview.data?.scores.byStage ?? [];
  return (
    <>
      {overview.data && overview.data.scores.run === null ? (
        <p className="note" data-testid="not-scored">
          Customers have not been scored yet: stages, RFM and predictions appear after the first scoring run (the server runs one at start and daily; or open Models and press “Fit and score now”).
        </p>
      ) : null}
      <div className="stage-chips" role="group" aria-label="Lifecycle stages">
        <button type="button" className={stage === "" ? "chip on" : "chip"} onClick={() => reset(() => setStage(""))}>
          All
        </button>
        {byStage.map((b) => (
          <button key={b.stage} type="button" className={stage === b.stage ? "chip on" : "chip"} onClick={() => reset(() => setStage(b.stage))} data-testid={`chip-${b.stage}`}>
            {STAGE_LABELS[b.stage]} <span className="chip-count">{count(b.customers)}</span>
          </button>
        ))}
      </div>
      <form className="filters" onSubmit={submit} role="search">
        <label>
          Search
          <input type="search" value={typed} onChange={(e) => setTyped(e.target.value)} placeholder="email, name or id" aria-label="Search customers" />
        </label>
        <label>
          RFM segment
          <select value={rfm} onChange={(e) => reset(() => setRfm(e.target.value))} aria-label="RFM segment">
            <option value="">any</option>
            {(overview.data?.scores.byRfmSegment ?? []).map((s) => (
              <option key={s.segment} value={s.segment}>
                {s.segment} ({count(s.customers)})
              </option>
            ))}
          </select>
        </label>
        <label>
          Signal
          <select value={signal} onChange={(e) => reset(() => setSignal(e.target.value))} aria-label="Churn signal">
            <option value="">any</option>
            {SIGNAL_KEYS.map((k) => (
              <option key={k} value={k}>
                {SIGNAL_LABELS[k]} ({count(overview.data?.scores.signals[k])})
              </option>
            ))}
          </select>
        </label>
        <label>
          Segment
          <select value={segment} onChange={(e) => reset(() => setSegment(e.target.value))} aria-label="Segment">
            <option value="">any</option>
            {(segments.data ?? []).map((s) => (
              <option key={s.id} value={String(s.id)}>
                {s.name} ({count(s.size)})
              </option>
            ))}
          </select>
        </label>
        <label>
          Sort by
          <select value={sort} onChange={(e) => reset(() => setSort(e.target.value))} aria-label="Sort by">
            {SORTS.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="secondary" onClick={() => reset(() => setOrder(order === "desc" ? "asc" : "desc"))} aria-label="Reverse the order">
          {order === "desc" ? "↓ highest first" : "↑ lowest first"}
        </button>
        <button type="submit">Search</button>
      </form>
      {list.isPending ? (
        <Loading what="customers" />
      ) : list.isError ? (
        <ErrorBox error={list.error} retry={() => void list.refetch()} />
      ) : (
        <section className="card table-card">
          <header className="card-head">
            <h2 data-testid="customers-total" data-value={list.data.total}>
              {list.data.total === 0 ? "No customer matches" : `${count(offset + 1)}–${count(Math.min(offset + PAGE, list.data.total))} of ${count(list.data.total)} customers`}
            </h2>
            <OffsetPager offset={offset} page={PAGE} total={list.data.total} go={setOffset} />
          </header>
          <div className="table-scroll">
            <table data-testid="customers-table">
              <thead>
                <tr>
                  <th scope="col">Customer</th>
                  <th scope="col">Stage</th>
                  <th scope="col" className="num">Orders</th>
                  <th scope="col" className="num">Net revenue</th>
                  <th scope="col" className="num">Last order</th>
                  <th scope="col" className="num">P(alive)</th>
                  <th scope="col" className="num">CLV (1 year)</th>
                  <th scope="col">RFM</th>
                  <th scope="col">Signals</th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((c) => (
                  <tr key={c.externalId}>
                    <td>
                      <a
                        href={`/customers/${encodeURIComponent(c.externalId)}`}
                        onClick={(e) => {
                          if (e.metaKey || e.ctrlKey || e.shiftKey) return;
                          e.preventDefault();
                          props.open(c.externalId);
                        }}
                      >
                        {c.name ?? c.email ?? c.externalId}
                      </a>
                      <div className="sub">{c.name ? (c.email ?? c.externalId) : c.externalId}</div>
                    </td>
                    <td>{c.score ? <StageBadge stage={c.score.stage} /> : "—"}</td>
                    <td className="num">{count(c.score?.orders)}</td>
                    <td className="num">{money(c.score?.netRevenueMinor)}</td>
                    <td className="num">{c.score?.daysSinceLastOrder === null || c.score === null ? "—" : `${days(c.score.daysSinceLastOrder)} ago`}</td>
                    <td className="num">{pct(c.score?.probabilityAlive, 0)}</td>
                    <td className="num">{money(c.score?.clvMinor)}</td>
                    <td>{c.score?.rfm ? <span title={c.score.rfm.segment}>{c.score.rfm.code} · {c.score.rfm.segment}</span> : "—"}</td>
                    <td>{c.score ? <SignalMarks signals={c.score.signals} /> : null}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </>
  );
}
