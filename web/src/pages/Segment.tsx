import { useState } from "react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSettled } from "../hooks.ts";
import { api, query } from "../api.ts";
import { count, money, minuteOf } from "../format.ts";
import type { FieldCatalogue, MemberView, Preview, Rule, SavedSegment, Segment as SegmentType } from "../types.ts";
import { ErrorBox, Loading } from "../components/States.tsx";
import { LineChart } from "../components/Charts.tsx";
import { RuleBuilder } from "../components/RuleBuilder.tsx";
import { StageBadge } from "../components/Scores.tsx";
import { Pager } from "../components/Pager.tsx";

const PAGE = 50;
const NEW_RULE: Rule = { all: [{ field: "orderCount", op: "gte", value: 2 }] };

/** One segment: edit its rule with a live count, see its members and size over time, export it. */
export function Segment(props: { id: number | "new"; open: (id: number) => void; back: () => void }) {
  const isNew = props.id === "new";
  const qc = useQueryClient();
  const catalogue = useQuery({ queryKey: ["segment-fields"], queryFn: () => api<FieldCatalogue>("/api/segments/fields") });
  const all = useQuery({ queryKey: ["segments"], queryFn: () => api<SegmentType[]>("/api/segments") });
  const seg = useQuery({ queryKey: ["segment", props.id], queryFn: () => api<SegmentType>(`/api/segments/${props.id}`), enabled: !isNew });
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [rule, setRule] = useState<Rule>(NEW_RULE);
  const [loadedId, setLoadedId] = useState<number | null>(null);
  if (seg.data && loadedId !== seg.data.id) {
    setLoadedId(seg.data.id);
    setName(seg.data.name);
    setDescription(seg.data.description);
    setRule(seg.data.rule);
  }
  const draft = useSettled(rule, 350);
  const preview = useQuery({
    queryKey: ["segment-preview", draft],
    queryFn: () => api<Preview>("/api/segments/preview", { method: "POST", body: { rule: draft, sample: 5 } }),
    placeholderData: keepPreviousData,
    retry: false,
  });
  const save = useMutation({
    mutationFn: () =>
      isNew
        ? api<SavedSegment>("/api/segments", { method: "POST", body: { name, description, rule } })
        : api<SavedSegment>(`/api/segments/${props.id}`, { method: "PATCH", body: { name, description, rule } }),
    onSuccess: (s) => {
      void qc.invalidateQueries({ queryKey: ["segments"] });
      void qc.invalidateQueries({ queryKey: ["segment", s.id] });
      void qc.invalidateQueries({ queryKey: ["segment-members", s.id] });
      void qc.invalidateQueries({ queryKey: ["segment-history", s.id] });
      if (isNew) props.open(s.id);
    },
  });
  const remove = useMutation({
    mutationFn: () => api(`/api/segments/${props.id}`, { method: "DELETE" }),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ["segments"] });
      props.back();
    },
  });

  if (catalogue.isPending || all.isPending || (!isNew && seg.isPending)) return <Loading what="the segment" />;
  if (catalogue.isError) return <ErrorBox error={catalogue.error} />;
  if (all.isError) return <ErrorBox error={all.error} />;
  if (!isNew && seg.isError) return <ErrorBox error={seg.error} />;

  return (
    <>
      <p>
        <a href="/segments" onClick={(e) => { e.preventDefault(); props.back(); }}>
          ← All segments
        </a>
      </p>
      <section className="card">
        <div className="segment-form">
          <label>
            Name
            <input aria-label="Segment name" value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. Coffee lovers at risk" />
          </label>
          <label>
            Description
            <input aria-label="Description" value={description} onChange={(e) => setDescription(e.target.value)} placeholder="what it is for" />
          </label>
        </div>
        <RuleBuilder rule={rule} onChange={setRule} catalogue={catalogue.data} segments={all.data} {...(isNew ? {} : { selfId: Number(props.id) })} />
        <div className="live-count" role="status" aria-live="polite" data-testid="live-count" data-value={preview.data?.count ?? ""}>
          {preview.isError ? (
            <span className="error-text">{preview.error instanceof Error ? preview.error.message : "The rule is not valid yet."}</span>
          ) : preview.data ? (
            <>
              <strong>{count(preview.data.count)}</strong> customers match now
              {preview.isFetching ? " (updating…)" : ""}
              {preview.data.sample.length > 0 ? <span className="sub"> — e.g. {preview.data.sample.map((m) => m.name ?? m.email ?? m.externalId).join(", ")}</span> : null}
              {preview.data.warnings.map((w) => (
                <div key={w} className="note">{w}</div>
              ))}
            </>
          ) : (
            "Counting…"
          )}
        </div>
        {save.isError ? <ErrorBox error={save.error} /> : null}
        <div className="actions">
          <button type="button" onClick={() => save.mutate()} disabled={save.isPending || name.trim() === ""} data-testid="save-segment">
            {save.isPending ? "Saving…" : isNew ? "Create segment" : "Save changes"}
          </button>
          {!isNew ? (
            <button type="button" className="secondary" onClick={() => window.confirm("Delete this segment and its history?") && remove.mutate()}>
              Delete
            </button>
          ) : null}
        </div>
        {remove.isError ? <ErrorBox error={remove.error} /> : null}
      </section>
      {!isNew && seg.data ? <SegmentDetail segment={seg.data} /> : null}
    </>
  );
}

function SegmentDetail({ segment }: { segment: SegmentType }) {
  const [after, setAfter] = useState<number[]>([]);
  const cursor = after.at(-1);
  const history = useQuery({
    queryKey: ["segment-history", segment.id],
    queryFn: () => api<{ days: { day: string; size: number; entered: number; exited: number }[] }>(`/api/segments/${segment.id}/history?days=90`),
  });
  const members = useQuery({
    queryKey: ["segment-members", segment.id, cursor],
    queryFn: () => api<{ total: number; items: MemberView[]; next: number | null }>(`/api/segments/${segment.id}/members${query({ limit: PAGE, after: cursor })}`),
    placeholderData: keepPreviousData,
  });
  const nextAfter = members.data?.next ?? null;
  const exportUrl = (params: Record<string, string>) => `/api/segments/${segment.id}/export${query(params)}`;
  return (
    <>
      <section className="card">
        <header className="card-head">
          <h2 data-testid="segment-size" data-value={segment.size}>
            {count(segment.size)} members now
          </h2>
          <div className="actions" data-testid="exports">
            <a className="button secondary" href={exportUrl({ format: "csv" })} download>
              Export CSV
            </a>
            {(["google", "meta", "tiktok"] as const).map((p) => (
              <a key={p} className="button secondary" href={exportUrl({ format: "audience", platform: p })} download title="Hashed emails and phones of members who consented to ads">
                {p === "google" ? "Google Ads audience" : p === "meta" ? "Meta audience" : "TikTok audience"}
              </a>
            ))}
          </div>
        </header>
        {history.data ? (
          <LineChart
            label="Members over the last 90 days"
            labels={history.data.days.map((d) => d.day)}
            series={[{ label: "Members", data: history.data.days.map((d) => d.size) }]}
            format={(v) => count(v)}
          />
        ) : history.isError ? (
          <ErrorBox error={history.error} />
        ) : (
          <Loading what="the size over time" />
        )}
      </section>
      <section className="card table-card">
        <header className="card-head">
          <h2>Members</h2>
          <Pager previous={after.length === 0 ? null : () => setAfter(after.slice(0, -1))} next={nextAfter === null ? null : () => setAfter([...after, nextAfter])} />
        </header>
        {members.isPending ? (
          <Loading what="members" />
        ) : members.isError ? (
          <ErrorBox error={members.error} />
        ) : (
          <div className="table-scroll">
            <table data-testid="members-table">
              <thead>
                <tr>
                  <th scope="col">Customer</th>
                  <th scope="col">Stage</th>
                  <th scope="col" className="num">Orders</th>
                  <th scope="col" className="num">Revenue</th>
                  <th scope="col" className="num">CLV</th>
                  <th scope="col">Member since</th>
                </tr>
              </thead>
              <tbody>
                {members.data.items.map((m) => (
                  <tr key={m.customerId}>
                    <td>
                      <a href={`/customers/${encodeURIComponent(m.externalId)}`}>{m.name ?? m.email ?? m.externalId}</a>
                      <div className="sub">{m.email ?? m.externalId}</div>
                    </td>
                    <td>{m.stage ? <StageBadge stage={m.stage} /> : "—"}</td>
                    <td className="num">{count(m.orders)}</td>
                    <td className="num">{money(m.revenueMinor)}</td>
                    <td className="num">{money(m.clvMinor)}</td>
                    <td>{minuteOf(m.enteredAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
