import { useState, type ReactNode } from "react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSettled } from "../hooks.ts";
import { api } from "../api.ts";
import { count, money, minuteOf } from "../format.ts";
import type { BacktestReport, FieldCatalogue, Journey as JourneyType, JourneyDefinition, JourneyStats, RenderedEmail, Rule, Segment, Step, Trigger } from "../types.ts";
import { ErrorBox, Loading } from "../components/States.tsx";
import { BarChart } from "../components/Charts.tsx";
import { RuleBuilder } from "../components/RuleBuilder.tsx";

type StepType = Step["type"];
type SendStep = Extract<Step, { type: "send" }>;

const STEP_LABEL: Record<StepType, string> = {
  wait: "Wait",
  waitUntil: "Wait until a time",
  waitForEvent: "Wait for an event",
  branch: "Branch",
  split: "Random split",
  send: "Send an email",
  setTrait: "Set a trait",
  awardPoints: "Award loyalty points",
  webhook: "Call a webhook",
  unsubscribe: "Unsubscribe",
  exit: "Exit",
};

const STEP_TYPES: StepType[] = ["wait", "waitUntil", "waitForEvent", "branch", "split", "send", "setTrait", "awardPoints", "webhook", "unsubscribe", "exit"];

/** The definition keeps conditions as JSON the server checks; the builder needs an object to start from. */
function isRule(v: unknown): v is Rule {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function blankStep(type: StepType, id: string): Step {
  switch (type) {
    case "wait":
      return { id, type, duration: { days: 1 } };
    case "waitUntil":
      return { id, type, time: "10:00" };
    case "waitForEvent":
      return { id, type, event: "Order Completed", timeout: { days: 3 } };
    case "branch":
      return { id, type, condition: { field: "orderCount", op: "eq", value: 0 } };
    case "split":
      return { id, type, paths: [{ label: "A", weight: 90 }, { label: "Holdout", weight: 10, holdout: true }] };
    case "send":
      return { id, type, channel: "email", purpose: "marketing", email: { subject: "Hello {{ customer.first_name }}", body: "<mj-section><mj-column><mj-text>Hello {{ customer.first_name }},</mj-text></mj-column></mj-section>" } };
    case "setTrait":
      return { id, type, key: "tagged", value: true };
    case "awardPoints":
      return { id, type, points: 100, reason: "gift" };
    case "webhook":
      return { id, type, url: "https://example.com/hook" };
    case "unsubscribe":
      return { id, type };
    case "exit":
      return { id, type };
  }
}

/** The steps a step leads to, with what each link means. */
function links(s: Step): { label: string; to: string | undefined }[] {
  switch (s.type) {
    case "branch":
      return [{ label: "yes", to: s.yes }, { label: "no", to: s.no }];
    case "split":
      return s.paths.map((p) => ({ label: p.holdout ? `${p.label} (holdout)` : `${p.label} ${p.weight}%`, to: p.holdout ? undefined : p.next }));
    case "waitForEvent":
      return [{ label: "happened", to: s.next }, { label: "timed out", to: s.onTimeout }];
    case "exit":
      return [];
    default:
      return [{ label: "then", to: s.next }];
  }
}

function duration(d: { days?: number | undefined; hours?: number | undefined; minutes?: number | undefined }): string {
  return [d.days ? `${d.days} d` : "", d.hours ? `${d.hours} h` : "", d.minutes ? `${d.minutes} min` : ""].filter(Boolean).join(" ") || "0";
}

function summary(s: Step): string {
  switch (s.type) {
    case "wait":
      return duration(s.duration);
    case "waitUntil":
      return `${s.time} in the customer's time zone`;
    case "waitForEvent":
      return `${s.event}, up to ${duration(s.timeout)}`;
    case "branch":
      return "on a condition";
    case "split":
      return s.paths.map((p) => `${p.label} ${p.weight}`).join(" / ");
    case "send":
      return `“${s.email.subject}”${s.purpose === "transactional" ? " (transactional)" : ""}`;
    case "setTrait":
      return `${s.key} = ${JSON.stringify(s.value)}`;
    case "awardPoints":
      return `${s.points} points (${s.reason})`;
    case "webhook":
      return s.url;
    case "unsubscribe":
      return "withdraws email consent";
    case "exit":
      return "";
  }
}

/** Steps in reading order: from the start, following links, then any left over. */
function ordered(def: JourneyDefinition): Step[] {
  const byId = new Map(def.steps.map((s) => [s.id, s]));
  const out: Step[] = [];
  const seen = new Set<string>();
  const queue = [def.start];
  while (queue.length > 0) {
    const id = queue.shift();
    if (id === undefined || seen.has(id)) continue;
    const s = byId.get(id);
    if (!s) continue;
    seen.add(id);
    out.push(s);
    for (const l of links(s)) if (l.to) queue.push(l.to);
  }
  return [...out, ...def.steps.filter((s) => !seen.has(s.id))];
}

function triggerText(t: Trigger, segments: Segment[]): string {
  switch (t.type) {
    case "event":
      return `when a customer does “${t.event}”${t.where?.length ? " (with filters)" : ""}`;
    case "segment":
      return `when a customer ${t.on === "exit" ? "leaves" : "enters"} “${segments.find((s) => s.id === t.segmentId)?.name ?? `segment ${t.segmentId}`}”`;
    case "date":
      return `on ${t.field === "birthday" ? "their birthday" : t.field}${t.offsetDays ? ` ${t.offsetDays > 0 ? "+" : ""}${t.offsetDays} days` : ""}, at ${t.at} their time`;
    case "schedule":
      return `every ${t.everyDays} day(s) at ${t.at} UTC${t.segmentId ? `, for “${segments.find((s) => s.id === t.segmentId)?.name ?? t.segmentId}”` : ""}`;
    case "overdue":
      return `when overdue against their own rhythm (× ${t.factor}, from ${t.minOrders} orders)`;
    case "replenishment":
      return `${t.leadDays} days before a product they bought runs out`;
  }
}

/** One journey: its funnel, a visual editor of its steps, the template editor with a live preview, and backtests. */
export function Journey(props: { id: number; back: () => void }) {
  const qc = useQueryClient();
  const journey = useQuery({ queryKey: ["journey", props.id], queryFn: () => api<JourneyType>(`/api/journeys/${props.id}`) });
  const stats = useQuery({ queryKey: ["journey-stats", props.id], queryFn: () => api<JourneyStats>(`/api/journeys/${props.id}/stats`), refetchInterval: 10_000 });
  const catalogue = useQuery({ queryKey: ["segment-fields"], queryFn: () => api<FieldCatalogue>("/api/segments/fields") });
  const segments = useQuery({ queryKey: ["segments"], queryFn: () => api<Segment[]>("/api/segments") });
  const [def, setDef] = useState<JourneyDefinition | null>(null);
  const [name, setName] = useState("");
  const [loaded, setLoaded] = useState<string>("");
  const [selected, setSelected] = useState<string | null>(null);
  const [asJson, setAsJson] = useState<string | null>(null);
  if (journey.data && loaded !== `${journey.data.id}:${journey.data.version}:${journey.data.updatedAt}`) {
    setLoaded(`${journey.data.id}:${journey.data.version}:${journey.data.updatedAt}`);
    setDef(journey.data.definition);
    setName(journey.data.name);
  }
  const refresh = () => {
    void qc.invalidateQueries({ queryKey: ["journey", props.id] });
    void qc.invalidateQueries({ queryKey: ["journeys"] });
    void qc.invalidateQueries({ queryKey: ["journey-stats", props.id] });
  };
  const save = useMutation({
    mutationFn: (body: { name: string; definition: unknown }) => api<JourneyType>(`/api/journeys/${props.id}`, { method: "PATCH", body }),
    onSuccess: () => {
      setAsJson(null);
      refresh();
    },
  });
  const status = useMutation({
    mutationFn: (to: "activate" | "pause" | "archive") => (to === "archive" ? api(`/api/journeys/${props.id}`, { method: "DELETE" }) : api<JourneyType>(`/api/journeys/${props.id}/${to}`, { method: "POST" })),
    onSuccess: (_, to) => {
      refresh();
      if (to === "archive") props.back();
    },
  });

  if (journey.isPending || catalogue.isPending || segments.isPending || def === null) return <Loading what="the journey" />;
  if (journey.isError) return <ErrorBox error={journey.error} />;
  if (catalogue.isError) return <ErrorBox error={catalogue.error} />;
  if (segments.isError) return <ErrorBox error={segments.error} />;
  const j = journey.data;
  const steps = ordered(def);
  const current = steps.find((s) => s.id === selected) ?? null;
  const ids = def.steps.map((s) => s.id);
  const setStep = (id: string, next: Step) => setDef({ ...def, steps: def.steps.map((s) => (s.id === id ? next : s)) });
  const dirty = JSON.stringify(def) !== JSON.stringify(j.definition) || name !== j.name;
  const addAfter = (after: Step | null, type: StepType) => {
    let n = def.steps.length + 1;
    while (ids.includes(`${type.toLowerCase()}-${n}`)) n += 1;
    const id = `${type.toLowerCase()}-${n}`;
    const fresh = blankStep(type, id);
    // The new step takes over where `after` went, and `after` now leads to it.
    const afterNext = after ? links(after)[0]?.to : def.start;
    const withNext: Step = fresh.type === "exit" || fresh.type === "split" || fresh.type === "branch" ? fresh : { ...fresh, next: afterNext };
    const rewired = def.steps.map((s): Step => {
      if (!after || s.id !== after.id) return s;
      switch (s.type) {
        case "branch":
          return { ...s, yes: id };
        case "split":
          return { ...s, paths: s.paths.map((p, i) => (i === 0 ? { ...p, next: id } : p)) };
        case "exit":
          return s;
        default:
          return { ...s, next: id };
      }
    });
    setDef({ ...def, start: after ? def.start : id, steps: [...rewired, withNext] });
    setSelected(id);
  };
  const remove = (victim: Step) => {
    const onward = links(victim)[0]?.to;
    const fix = (to: string | undefined) => (to === victim.id ? onward : to);
    const steps = def.steps
      .filter((s) => s.id !== victim.id)
      .map((s): Step => {
        switch (s.type) {
          case "branch":
            return { ...s, yes: fix(s.yes), no: fix(s.no) };
          case "split":
            return { ...s, paths: s.paths.map((p) => ({ ...p, next: fix(p.next) })) };
          case "waitForEvent":
            return { ...s, next: fix(s.next), onTimeout: fix(s.onTimeout) };
          case "exit":
            return s;
          default:
            return { ...s, next: fix(s.next) };
        }
      });
    setDef({ ...def, start: def.start === victim.id ? (onward ?? steps[0]?.id ?? def.start) : def.start, steps });
    setSelected(null);
  };

  return (
    <>
      <p>
        <a href="/journeys" onClick={(e) => { e.preventDefault(); props.back(); }}>
          ← All journeys
        </a>
      </p>
      <section className="card">
        <div className="card-head">
          <div>
            <input aria-label="Journey name" className="title-input" value={name} onChange={(e) => setName(e.target.value)} />
            <span className={`badge status-${j.status}`} data-testid="journey-status">
              {j.status}
            </span>{" "}
            <span className="sub">
              version {j.version} · {triggerText(def.trigger, segments.data)} · changed {minuteOf(j.updatedAt)}
            </span>
          </div>
          <div className="actions">
            {j.status !== "active" ? (
              <button type="button" onClick={() => status.mutate("activate")} disabled={status.isPending || dirty} title={dirty ? "Save your changes first" : undefined} data-testid="activate">
                Activate
              </button>
            ) : (
              <button type="button" className="secondary" onClick={() => status.mutate("pause")} disabled={status.isPending} data-testid="pause">
                Pause
              </button>
            )}
            <button type="button" className="secondary" onClick={() => window.confirm("Archive this journey? Everyone inside is stopped.") && status.mutate("archive")}>
              Archive
            </button>
          </div>
        </div>
        {j.description ? <p className="note">{j.description}</p> : null}
        {status.isError ? <ErrorBox error={status.error} /> : null}
      </section>

      {stats.data ? <Funnel stats={stats.data} /> : stats.isError ? <ErrorBox error={stats.error} /> : null}

      <section className="card">
        <div className="card-head">
          <h2>Steps</h2>
          <div className="actions">
            <button type="button" className="secondary" onClick={() => setAsJson(asJson === null ? JSON.stringify(def, null, 2) : null)}>
              {asJson === null ? "Edit as JSON" : "Back to the visual editor"}
            </button>
            <button
              type="button"
              onClick={() => {
                if (asJson === null) return save.mutate({ name, definition: def });
                try {
                  save.mutate({ name, definition: JSON.parse(asJson) });
                } catch (err) {
                  window.alert(`That is not JSON: ${err instanceof Error ? err.message : String(err)}`);
                }
              }}
              disabled={save.isPending || (!dirty && asJson === null)}
              data-testid="save-journey"
            >
              {save.isPending ? "Saving…" : j.status === "draft" ? "Save" : "Save as a new version"}
            </button>
          </div>
        </div>
        {save.isError ? <ErrorBox error={save.error} /> : null}
        {asJson !== null ? (
          <textarea className="code" aria-label="Definition as JSON" rows={24} value={asJson} onChange={(e) => setAsJson(e.target.value)} />
        ) : (
          <div className="journey-editor">
            <div className="flow" data-testid="flow">
              <TriggerCard def={def} setDef={setDef} segments={segments.data} catalogue={catalogue.data} onAddFirst={(t) => addAfter(null, t)} />
              {steps.map((s) => {
                const st = stats.data?.steps.find((x) => x.step === s.id);
                return (
                  <div key={s.id} className={`step-card step-${s.type}${selected === s.id ? " selected" : ""}`} data-testid={`step-${s.id}`}>
                    <button type="button" className="step-body" onClick={() => setSelected(selected === s.id ? null : s.id)}>
                      <strong>{s.label ?? STEP_LABEL[s.type]}</strong> <code>{s.id}</code>
                      <span className="sub">{summary(s)}</span>
                      {st ? (
                        <span className="sub">
                          {count(st.reached)} reached{st.waiting ? ` · ${count(st.waiting)} waiting` : ""}
                          {s.type === "send" ? ` · ${count(st.sent)} sent · ${count(st.opened)} opened · ${count(st.clicked)} clicked` : ""}
                        </span>
                      ) : null}
                    </button>
                    <div className="step-links">
                      {links(s).map((l) => (
                        <span key={l.label} className="link-chip">
                          {l.label} → {l.to ?? "end"}
                        </span>
                      ))}
                    </div>
                    <AddStep onAdd={(t) => addAfter(s, t)} />
                  </div>
                );
              })}
            </div>
            <div className="step-panel">
              {current ? (
                <StepEditor key={current.id} step={current} ids={ids} onChange={(n) => setStep(current.id, n)} onRemove={() => remove(current)} catalogue={catalogue.data} segments={segments.data} />
              ) : (
                <p className="note">Choose a step to change it, or add one with the + under a step.</p>
              )}
            </div>
          </div>
        )}
      </section>

      <Backtest id={props.id} draft={dirty ? def : undefined} />
    </>
  );
}

function AddStep(props: { onAdd: (t: StepType) => void }) {
  return (
    <select
      aria-label="Add a step after this one"
      className="add-step"
      value=""
      onChange={(e) => {
        const t = STEP_TYPES.find((x) => x === e.target.value);
        if (t) props.onAdd(t);
      }}
    >
      <option value="">+ add a step after…</option>
      {STEP_TYPES.map((t) => (
        <option key={t} value={t}>
          {STEP_LABEL[t]}
        </option>
      ))}
    </select>
  );
}

function TriggerCard(props: { def: JourneyDefinition; setDef: (d: JourneyDefinition) => void; segments: Segment[]; catalogue: FieldCatalogue; onAddFirst: (t: StepType) => void }) {
  const { def, setDef } = props;
  const t = def.trigger;
  const setTrigger = (n: Trigger) => setDef({ ...def, trigger: n });
  return (
    <div className="step-card trigger-card" data-testid="trigger">
      <div className="step-body">
        <strong>Start</strong>
        <div className="form-row">
          <label>
            Trigger
            <select
              aria-label="Trigger"
              value={t.type}
              onChange={(e) => {
                const type = e.target.value;
                const first = props.segments[0]?.id ?? 1;
                setTrigger(
                  type === "segment" ? { type, segmentId: first, on: "enter" }
                  : type === "date" ? { type, field: "birthday", offsetDays: 0, at: "09:00" }
                  : type === "schedule" ? { type, everyDays: 7, at: "09:00" }
                  : type === "overdue" ? { type, factor: 1, minOrders: 2 }
                  : type === "replenishment" ? { type, leadDays: 5 }
                  : { type: "event", event: "Order Completed" },
                );
              }}
            >
              <option value="event">An event</option>
              <option value="segment">Entering or leaving a segment</option>
              <option value="date">A date (birthday, a date trait)</option>
              <option value="schedule">A schedule</option>
              <option value="overdue">Overdue on their own rhythm</option>
              <option value="replenishment">A product running out</option>
            </select>
          </label>
          {t.type === "event" ? (
            <label>
              Event
              <input aria-label="Trigger event" value={t.event} onChange={(e) => setTrigger({ ...t, event: e.target.value })} />
            </label>
          ) : null}
          {t.type === "segment" ? (
            <>
              <label>
                Segment
                <select aria-label="Trigger segment" value={t.segmentId} onChange={(e) => setTrigger({ ...t, segmentId: Number(e.target.value) })}>
                  {props.segments.map((s) => (
                    <option key={s.id} value={s.id}>
                      {s.name}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                When they
                <select aria-label="Enter or leave" value={t.on} onChange={(e) => setTrigger({ ...t, on: e.target.value === "exit" ? "exit" : "enter" })}>
                  <option value="enter">enter it</option>
                  <option value="exit">leave it</option>
                </select>
              </label>
            </>
          ) : null}
          {t.type === "date" ? (
            <>
              <label>
                Date
                <input aria-label="Date field" value={t.field} onChange={(e) => setTrigger({ ...t, field: e.target.value })} />
              </label>
              <label>
                Days after (− before)
                <input aria-label="Offset days" type="number" value={t.offsetDays} onChange={(e) => setTrigger({ ...t, offsetDays: Number(e.target.value) })} />
              </label>
              <label>
                At (their time)
                <input aria-label="At" value={t.at} onChange={(e) => setTrigger({ ...t, at: e.target.value })} />
              </label>
            </>
          ) : null}
          {t.type === "schedule" ? (
            <>
              <label>
                Every (days)
                <input aria-label="Every days" type="number" min={1} value={t.everyDays} onChange={(e) => setTrigger({ ...t, everyDays: Number(e.target.value) })} />
              </label>
              <label>
                At (UTC)
                <input aria-label="At" value={t.at} onChange={(e) => setTrigger({ ...t, at: e.target.value })} />
              </label>
            </>
          ) : null}
          {t.type === "overdue" ? (
            <>
              <label>
                × their rhythm
                <input aria-label="Factor" type="number" step={0.1} value={t.factor} onChange={(e) => setTrigger({ ...t, factor: Number(e.target.value) })} />
              </label>
              <label>
                From orders
                <input aria-label="Minimum orders" type="number" min={2} value={t.minOrders} onChange={(e) => setTrigger({ ...t, minOrders: Number(e.target.value) })} />
              </label>
            </>
          ) : null}
          {t.type === "replenishment" ? (
            <label>
              Days before it runs out
              <input aria-label="Lead days" type="number" min={0} value={t.leadDays} onChange={(e) => setTrigger({ ...t, leadDays: Number(e.target.value) })} />
            </label>
          ) : null}
          <label>
            Who may enter again
            <select
              aria-label="Re-entry"
              value={def.reentry.policy}
              onChange={(e) => setDef({ ...def, reentry: e.target.value === "oncePer" ? { policy: "oncePer", days: 30 } : e.target.value === "everyTime" ? { policy: "everyTime" } : { policy: "once" } })}
            >
              <option value="once">once ever</option>
              <option value="oncePer">once per N days</option>
              <option value="everyTime">every time (after finishing)</option>
            </select>
          </label>
          {def.reentry.policy === "oncePer" ? (
            <label>
              Days
              <input aria-label="Re-entry days" type="number" min={1} value={def.reentry.days} onChange={(e) => setDef({ ...def, reentry: { policy: "oncePer", days: Number(e.target.value) } })} />
            </label>
          ) : null}
          <label>
            Goal events (end the journey)
            <input
              aria-label="Goal events"
              value={def.goals.map((g) => g.event).join(", ")}
              onChange={(e) => setDef({ ...def, goals: e.target.value.split(",").map((x) => x.trim()).filter(Boolean).map((event) => ({ event })) })}
              placeholder="e.g. Order Completed"
            />
          </label>
        </div>
        <details>
          <summary>{def.audience === undefined ? "Everyone may enter (add a condition)" : "Only customers who match a condition"}</summary>
          {!isRule(def.audience) ? (
            <button type="button" className="secondary" onClick={() => setDef({ ...def, audience: { field: "consent.email", op: "is", value: true } })}>
              Add a condition
            </button>
          ) : (
            <>
              <RuleBuilder rule={def.audience} onChange={(r) => setDef({ ...def, audience: r })} catalogue={props.catalogue} segments={props.segments} />
              <button type="button" className="secondary" onClick={() => setDef({ ...def, audience: undefined })}>
                Remove the condition
              </button>
            </>
          )}
        </details>
      </div>
      <AddStep onAdd={props.onAddFirst} />
    </div>
  );
}

function NextSelect(props: { label: string; value: string | undefined; ids: string[]; self: string; onChange: (v: string | undefined) => void }) {
  return (
    <label>
      {props.label}
      <select aria-label={props.label} value={props.value ?? ""} onChange={(e) => props.onChange(e.target.value || undefined)}>
        <option value="">(end of the journey)</option>
        {props.ids
          .filter((id) => id !== props.self)
          .map((id) => (
            <option key={id} value={id}>
              {id}
            </option>
          ))}
      </select>
    </label>
  );
}

function DurationInput(props: { label: string; value: { days?: number | undefined; hours?: number | undefined; minutes?: number | undefined }; onChange: (v: { days?: number; hours?: number; minutes?: number }) => void }) {
  const v = props.value;
  const set = (k: "days" | "hours" | "minutes", n: number) => props.onChange({ days: v.days ?? 0, hours: v.hours ?? 0, minutes: v.minutes ?? 0, [k]: Math.max(0, Math.floor(n)) });
  return (
    <fieldset className="duration">
      <legend>{props.label}</legend>
      <input aria-label={`${props.label} days`} type="number" min={0} value={v.days ?? 0} onChange={(e) => set("days", Number(e.target.value))} /> d
      <input aria-label={`${props.label} hours`} type="number" min={0} value={v.hours ?? 0} onChange={(e) => set("hours", Number(e.target.value))} /> h
      <input aria-label={`${props.label} minutes`} type="number" min={0} value={v.minutes ?? 0} onChange={(e) => set("minutes", Number(e.target.value))} /> min
    </fieldset>
  );
}

function StepEditor(props: { step: Step; ids: string[]; onChange: (s: Step) => void; onRemove: () => void; catalogue: FieldCatalogue; segments: Segment[] }) {
  const s = props.step;
  const next = (label: string, value: string | undefined, set: (v: string | undefined) => void) => <NextSelect label={label} value={value} ids={props.ids} self={s.id} onChange={set} />;
  return (
    <div className="step-editor" data-testid="step-editor">
      <div className="card-head">
        <h2>
          {STEP_LABEL[s.type]} <code>{s.id}</code>
        </h2>
        <button type="button" className="secondary" onClick={props.onRemove}>
          Remove this step
        </button>
      </div>
      <label>
        Label
        <input aria-label="Step label" value={s.label ?? ""} onChange={(e) => props.onChange({ ...s, label: e.target.value || undefined })} />
      </label>
      {s.type === "wait" ? (
        <>
          <DurationInput label="Wait" value={s.duration} onChange={(d) => props.onChange({ ...s, duration: d })} />
          {next("Then", s.next, (v) => props.onChange({ ...s, next: v }))}
        </>
      ) : null}
      {s.type === "waitUntil" ? (
        <>
          <label>
            Time of day (the customer's time zone)
            <input aria-label="Time of day" value={s.time} onChange={(e) => props.onChange({ ...s, time: e.target.value })} />
          </label>
          {next("Then", s.next, (v) => props.onChange({ ...s, next: v }))}
        </>
      ) : null}
      {s.type === "waitForEvent" ? (
        <>
          <label>
            Event
            <input aria-label="Event to wait for" value={s.event} onChange={(e) => props.onChange({ ...s, event: e.target.value })} />
          </label>
          <DurationInput label="Wait at most" value={s.timeout} onChange={(d) => props.onChange({ ...s, timeout: d })} />
          {next("If it happens", s.next, (v) => props.onChange({ ...s, next: v }))}
          {next("If it does not", s.onTimeout, (v) => props.onChange({ ...s, onTimeout: v }))}
        </>
      ) : null}
      {s.type === "branch" ? (
        <>
          {isRule(s.condition) ? <RuleBuilder rule={s.condition} onChange={(r) => props.onChange({ ...s, condition: r })} catalogue={props.catalogue} segments={props.segments} /> : null}
          {next("If yes", s.yes, (v) => props.onChange({ ...s, yes: v }))}
          {next("If no", s.no, (v) => props.onChange({ ...s, no: v }))}
        </>
      ) : null}
      {s.type === "split" ? (
        <>
          {s.paths.map((p, i) => (
            <div key={i} className="form-row">
              <label>
                Path
                <input aria-label={`Path ${i + 1} label`} value={p.label} onChange={(e) => props.onChange({ ...s, paths: s.paths.map((q, k) => (k === i ? { ...q, label: e.target.value } : q)) })} />
              </label>
              <label>
                Weight
                <input aria-label={`Path ${i + 1} weight`} type="number" min={0} value={p.weight} onChange={(e) => props.onChange({ ...s, paths: s.paths.map((q, k) => (k === i ? { ...q, weight: Number(e.target.value) } : q)) })} />
              </label>
              <label className="check">
                <input type="checkbox" checked={p.holdout === true} onChange={(e) => props.onChange({ ...s, paths: s.paths.map((q, k) => (k === i ? { ...q, holdout: e.target.checked || undefined } : q)) })} /> holdout (gets nothing)
              </label>
              {p.holdout ? null : next("Then", p.next, (v) => props.onChange({ ...s, paths: s.paths.map((q, k) => (k === i ? { ...q, next: v } : q)) }))}
            </div>
          ))}
          <button type="button" className="secondary" onClick={() => props.onChange({ ...s, paths: [...s.paths, { label: String.fromCharCode(65 + s.paths.length), weight: 10 }] })}>
            Add a path
          </button>
        </>
      ) : null}
      {s.type === "send" ? <TemplateEditor step={s} onChange={props.onChange} next={next("Then", s.next, (v) => props.onChange({ ...s, next: v }))} /> : null}
      {s.type === "setTrait" ? (
        <>
          <label>
            Trait
            <input aria-label="Trait key" value={s.key} onChange={(e) => props.onChange({ ...s, key: e.target.value })} />
          </label>
          <label>
            Value (JSON)
            <input
              aria-label="Trait value"
              defaultValue={JSON.stringify(s.value)}
              onBlur={(e) => {
                try {
                  props.onChange({ ...s, value: JSON.parse(e.target.value) });
                } catch {
                  props.onChange({ ...s, value: e.target.value });
                }
              }}
            />
          </label>
          {next("Then", s.next, (v) => props.onChange({ ...s, next: v }))}
        </>
      ) : null}
      {s.type === "awardPoints" ? (
        <>
          <label>
            Points
            <input aria-label="Points" type="number" min={1} value={s.points} onChange={(e) => props.onChange({ ...s, points: Math.max(1, Math.floor(Number(e.target.value))) })} />
          </label>
          <label>
            Reason (in the customer's points history)
            <input aria-label="Reason" value={s.reason} onChange={(e) => props.onChange({ ...s, reason: e.target.value })} />
          </label>
          {next("Then", s.next, (v) => props.onChange({ ...s, next: v }))}
        </>
      ) : null}
      {s.type === "webhook" ? (
        <>
          <label>
            URL (POST, signed with X-Fidelio-Signature)
            <input aria-label="Webhook URL" value={s.url} onChange={(e) => props.onChange({ ...s, url: e.target.value })} />
          </label>
          {next("Then", s.next, (v) => props.onChange({ ...s, next: v }))}
        </>
      ) : null}
      {s.type === "unsubscribe" ? next("Then", s.next, (v) => props.onChange({ ...s, next: v })) : null}
    </div>
  );
}

/** Subject, preheader, MJML body and text, with a live preview on a real customer. */
function TemplateEditor(props: { step: SendStep; onChange: (s: Step) => void; next: ReactNode }) {
  const s = props.step;
  const [customer, setCustomer] = useState("");
  const sample = useQuery({ queryKey: ["preview-customer"], queryFn: () => api<{ items: { externalId: string }[] }>("/api/customers?limit=1&sort=revenue") });
  const who = customer || sample.data?.items[0]?.externalId || "";
  const draft = useSettled(s.email, 400);
  const preview = useQuery({
    queryKey: ["email-preview", draft, who],
    queryFn: () => api<RenderedEmail>("/api/journeys/preview-email", { method: "POST", body: { email: draft, customer: who } }),
    enabled: who !== "",
    placeholderData: keepPreviousData,
    retry: false,
  });
  const set = (k: "subject" | "preview" | "body" | "text", v: string) => props.onChange({ ...s, email: { ...s.email, [k]: v === "" && (k === "preview" || k === "text") ? undefined : v } });
  return (
    <div className="template-editor">
      <label>
        Purpose
        <select aria-label="Purpose" value={s.purpose} onChange={(e) => props.onChange({ ...s, purpose: e.target.value === "transactional" ? "transactional" : "marketing" })}>
          <option value="marketing">marketing (needs consent; caps and quiet hours apply)</option>
          <option value="transactional">transactional (exempt from caps and quiet hours)</option>
        </select>
      </label>
      <label>
        Subject
        <input aria-label="Subject" value={s.email.subject} onChange={(e) => set("subject", e.target.value)} />
      </label>
      <label>
        Preheader
        <input aria-label="Preheader" value={s.email.preview ?? ""} onChange={(e) => set("preview", e.target.value)} />
      </label>
      <label>
        Body (MJML sections or a whole &lt;mjml&gt; document; Liquid: {"{{ customer.first_name }}"}, {"{{ last_order.total_minor | money: last_order.currency }}"}, {"{% for p in products %}"}…)
        <textarea className="code" aria-label="Body" rows={12} value={s.email.body} onChange={(e) => set("body", e.target.value)} />
      </label>
      <label>
        Plain text (derived from the HTML when empty)
        <textarea className="code" aria-label="Plain text" rows={4} value={s.email.text ?? ""} onChange={(e) => set("text", e.target.value)} />
      </label>
      {props.next}
      <div className="preview-head">
        <h3>Preview for</h3>
        <input aria-label="Preview customer" value={customer} onChange={(e) => setCustomer(e.target.value)} placeholder={who || "customer id"} />
      </div>
      {preview.isError ? (
        <p className="error-text" data-testid="preview-error">
          {preview.error instanceof Error ? preview.error.message : "The template does not render."}
        </p>
      ) : preview.data ? (
        <div data-testid="email-preview">
          <p>
            <strong>Subject:</strong> <span data-testid="preview-subject">{preview.data.subject}</span>
          </p>
          <iframe title="Email preview" className="email-frame" sandbox="" srcDoc={preview.data.html} />
          <details>
            <summary>Plain-text part</summary>
            <pre className="text-part">{preview.data.text}</pre>
          </details>
        </div>
      ) : (
        <Loading what="the preview" />
      )}
    </div>
  );
}

function Funnel(props: { stats: JourneyStats }) {
  const s = props.stats;
  const sends = s.steps.filter((x) => x.type === "send");
  const uplift = s.ordersWithin30.holdout ? s.ordersWithin30.treated.rate - s.ordersWithin30.holdout.rate : null;
  return (
    <section className="card" data-testid="funnel">
      <h2>Performance</h2>
      <div className="figures">
        <div className="figure">
          <h3>Entered</h3>
          <div className="value">{count(s.entered)}</div>
        </div>
        <div className="figure">
          <h3>Inside now</h3>
          <div className="value">{count(s.inside)}</div>
        </div>
        <div className="figure">
          <h3>Converted (goal)</h3>
          <div className="value">{count(s.converted)}</div>
        </div>
        <div className="figure">
          <h3>Ordered within 30 days</h3>
          <div className="value">{(100 * s.ordersWithin30.treated.rate).toFixed(1)} %</div>
          {uplift !== null && s.ordersWithin30.holdout ? (
            <span className="sub">
              holdout {(100 * s.ordersWithin30.holdout.rate).toFixed(1)} % · uplift {(100 * uplift).toFixed(1)} points
            </span>
          ) : (
            <span className="sub">add a split with a holdout to measure uplift</span>
          )}
        </div>
      </div>
      {s.steps.length > 0 ? (
        <BarChart
          label="Per step: reached, sent, opened, clicked"
          labels={s.steps.map((x) => x.label ?? x.step)}
          series={[
            { label: "Reached", data: s.steps.map((x) => x.reached) },
            { label: "Sent", data: s.steps.map((x) => x.sent) },
            { label: "Opened", data: s.steps.map((x) => x.opened) },
            { label: "Clicked", data: s.steps.map((x) => x.clicked) },
          ]}
          format={(v) => count(v)}
          height={220}
        />
      ) : null}
      {sends.some((x) => x.suppressed > 0 || x.pending > 0) ? (
        <p className="note">
          {count(sends.reduce((a, x) => a + x.pending, 0))} messages waiting to go (quiet hours, caps, retries) · {count(sends.reduce((a, x) => a + x.suppressed, 0))} held back (no consent, bounced address)
        </p>
      ) : null}
    </section>
  );
}

function Backtest(props: { id: number; draft: JourneyDefinition | undefined }) {
  const year = new Date().getUTCFullYear();
  const [from, setFrom] = useState(`${year - 1}-01-01`);
  const [to, setTo] = useState(`${year - 1}-12-31`);
  const run = useMutation({
    mutationFn: () => api<BacktestReport>(`/api/journeys/${props.id}/backtest`, { method: "POST", body: { from, to, ...(props.draft ? { definition: props.draft } : {}) } }),
  });
  const r = run.data;
  return (
    <section className="card" data-testid="backtest">
      <div className="card-head">
        <h2>Backtest on your history</h2>
        <div className="actions">
          <label>
            From
            <input aria-label="Backtest from" type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
          </label>
          <label>
            To
            <input aria-label="Backtest to" type="date" value={to} onChange={(e) => setTo(e.target.value)} />
          </label>
          <button type="button" onClick={() => run.mutate()} disabled={run.isPending} data-testid="run-backtest">
            {run.isPending ? "Replaying…" : props.draft ? "Backtest the unsaved draft" : "Run backtest"}
          </button>
        </div>
      </div>
      <p className="note">Replays the stored history through the journey on a simulated clock: whom it would have entered, what it would have sent, and what those customers did next. Nothing is sent.</p>
      {run.isError ? <ErrorBox error={run.error} /> : null}
      {r ? (
        <div data-testid="backtest-result">
          <div className="figures">
            <div className="figure">
              <h3>Would have entered</h3>
              <div className="value" data-testid="bt-entered">{count(r.entered)}</div>
              <span className="sub">{count(r.customers)} customers</span>
            </div>
            <div className="figure">
              <h3>Would have sent</h3>
              <div className="value">{count(r.sent)}</div>
            </div>
            <div className="figure">
              <h3>Ordered within 7 days</h3>
              <div className="value">{(100 * r.outcome.within7.rate).toFixed(1)} %</div>
              <span className="sub">{money(r.outcome.within7.revenueMinor)}</span>
            </div>
            <div className="figure">
              <h3>Ordered within 30 days</h3>
              <div className="value">{(100 * r.outcome.within30.rate).toFixed(1)} %</div>
              <span className="sub">
                {count(r.outcome.within30.orders)} orders · {money(r.outcome.within30.revenueMinor)}
              </span>
            </div>
          </div>
          <BarChart label="Backtest per step" labels={r.steps.map((x) => x.step)} series={[{ label: "Reached", data: r.steps.map((x) => x.reached) }, { label: "Sent", data: r.steps.map((x) => x.sent) }]} format={(v) => count(v)} height={200} />
          {r.holdout ? (
            <p>
              Holdout: {(100 * r.holdout.within30.rate).toFixed(1)} % ordered within 30 days ({count(r.holdout.within30.customers)} customers).
            </p>
          ) : null}
          {r.notes.map((n) => (
            <p key={n} className="note">
              {n}
            </p>
          ))}
          <div className="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Customer</th>
                  <th scope="col">Step</th>
                  <th scope="col">Subject</th>
                </tr>
              </thead>
              <tbody>
                {r.messages.slice(0, 50).map((m, i) => (
                  <tr key={i}>
                    <td>{minuteOf(m.at)}</td>
                    <td>{m.customer}</td>
                    <td>{m.step}</td>
                    <td>{m.subject}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="sub">{r.seconds.toFixed(1)} s to replay.</p>
        </div>
      ) : null}
    </section>
  );
}
