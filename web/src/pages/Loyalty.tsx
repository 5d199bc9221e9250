import { useEffect, useState, type FormEvent } from "react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, query } from "../api.ts";
import { count, minuteOf, money, pct, toMinor } from "../format.ts";
import type { LoyaltyMember, LoyaltyOverview, LoyaltySettings, Reward } from "../types.ts";
import { BarChart } from "../components/Charts.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { ErrorBox, Loading } from "../components/States.tsx";
import { customerLink, discountGives, OfferToggle, Plans, refreshLoyalty, RunPass, settingsQuery, Storefront, Wheel } from "./LoyaltyProgramme.tsx";
import { OffsetPager } from "../components/Pager.tsx";

/**
 * The loyalty programme: its figures, the worker's pass, its members, spin-to-win,
 * paid membership, the rewards catalogue, the storefront widget and the settings.
 */
export function Loyalty(props: { open: (externalId: string) => void }) {
  const overview = useQuery({ queryKey: ["loyalty-overview"], queryFn: () => api<LoyaltyOverview>("/api/loyalty/overview") });
  return (
    <>
      {overview.isPending ? (
        <Loading what="the programme's figures" />
      ) : overview.isError ? (
        <ErrorBox error={overview.error} retry={() => void overview.refetch()} />
      ) : (
        <Figures o={overview.data} open={props.open} />
      )}
      <RunPass />
      <Members open={props.open} />
      <Wheel open={props.open} />
      <Plans />
      <Rewards />
      <Storefront />
      <SettingsForm />
    </>
  );
}

interface Figure {
  id: string;
  label: string;
  value: number | null;
  show: string;
  help: string;
}

function Figures({ o, open }: { o: LoyaltyOverview; open: (id: string) => void }) {
  const figures: Figure[] = [
    { id: "members", label: "Members", value: o.members, show: count(o.members), help: "Customers who have earned points" },
    { id: "outstanding", label: "Points outstanding", value: o.pointsOutstanding, show: count(o.pointsOutstanding), help: "The sum of every member's balance" },
    { id: "liability", label: "Liability", value: o.liabilityMinor, show: money(o.liabilityMinor), help: `Points outstanding × the value of a point (${o.pointValueMinor} minor units)` },
    { id: "redemptionRate", label: "Redemption rate", value: o.redemptionRate, show: pct(o.redemptionRate), help: "Points redeemed ÷ points earned, since the start" },
    { id: "rewardsRedeemed", label: "Rewards redeemed", value: o.rewardsRedeemed, show: count(o.rewardsRedeemed), help: "Rewards exchanged for points, each with its code" },
  ];
  const months = o.monthly.map((m) => m.month);
  const cmp = o.membersVsNonMembers;
  return (
    <>
      {!o.enabled ? (
        <p className="note" data-testid="loyalty-off">
          The programme is switched off: no points are earned. Switch it on under “Programme settings” below; orders placed from then on earn.
        </p>
      ) : null}
      {o.members === 0 ? (
        <div className="state empty" data-testid="loyalty-empty">
          <strong>No member yet.</strong> Customers become members when they earn their first points: from orders once the programme is on, from bonus events, or from an entry posted with{" "}
          <code>POST /api/loyalty/customers/&#123;id&#125;/entries</code>.
        </div>
      ) : null}
      <section className="figures" aria-label="Loyalty figures">
        {figures.map((f) => (
          <article className="figure" key={f.id} data-testid={`loyalty-${f.id}`} data-value={f.value ?? ""} title={f.help}>
            <h3>{f.label}</h3>
            <p className="value">{f.show}</p>
          </article>
        ))}
      </section>
      <p className="note">
        Lifetime: {count(o.lifetime.earned)} points earned, {count(o.lifetime.spent)} redeemed, {count(o.lifetime.expired)} expired, {count(o.lifetime.clawedBack)} taken back after refunds, {count(o.lifetime.adjustedDown)}{" "}
        adjusted down.
      </p>
      <div className="grid2">
        <section className="card">
          <h2>Points per month</h2>
          <BarChart
            label="Points earned, redeemed and expired per month"
            labels={months}
            series={[
              { label: "Earned", data: o.monthly.map((m) => m.earned) },
              { label: "Redeemed", data: o.monthly.map((m) => m.redeemed) },
              { label: "Expired", data: o.monthly.map((m) => m.expired) },
            ]}
            format={(v) => count(v)}
          />
        </section>
        <section className="card">
          <h2>Members by tier</h2>
          {o.tiers.length === 0 ? (
            <p className="note">No member yet.</p>
          ) : (
            <>
              <BarChart label="Members by tier" horizontal height={Math.max(160, o.tiers.length * 36)} labels={o.tiers.map((t) => t.tier ?? "No tier")} series={[{ label: "Members", data: o.tiers.map((t) => t.members) }]} format={(v) => count(v)} />
              {o.tiers.every((t) => t.tier === null) ? <p className="note">No tiers yet: add levels under “tiers” in the settings below.</p> : null}
            </>
          )}
        </section>
        <section className="card" data-testid="comparison">
          <h2>Repeat rate: members and non-members</h2>
          <BarChart
            label="Repeat rate of members and of non-members"
            height={180}
            labels={["Members", "Non-members"]}
            series={[{ label: "Ordered twice or more", data: [cmp.members.repeatRate, cmp.nonMembers.repeatRate] }]}
            format={(v) => pct(v, 0)}
          />
          <p>
            Of the members who ordered, <strong data-testid="members-repeat" data-value={cmp.members.repeatRate ?? ""}>{pct(cmp.members.repeatRate)}</strong> ordered twice or more ({count(cmp.members.repeatCustomers)} of{" "}
            {count(cmp.members.customers)}); of the other customers who ordered, <strong data-testid="non-members-repeat" data-value={cmp.nonMembers.repeatRate ?? ""}>{pct(cmp.nonMembers.repeatRate)}</strong> (
            {count(cmp.nonMembers.repeatCustomers)} of {count(cmp.nonMembers.customers)}).
          </p>
          <p className="note" data-testid="comparison-note">
            {cmp.note}
          </p>
        </section>
        <section className="card">
          <h2>Memberships, referrals and the wheel</h2>
          <div className="table-scroll">
            <table>
              <tbody>
                <tr>
                  <th scope="row">Paid memberships</th>
                  <td>
                    {count(o.memberships.active)} active · {count(o.memberships.lapsed)} lapsed · {count(o.memberships.ended)} ended
                  </td>
                </tr>
                <tr>
                  <th scope="row">Referrals</th>
                  <td>
                    {count(o.referrals.pending)} pending · {count(o.referrals.qualified)} qualified · {count(o.referrals.rewarded)} rewarded · {count(o.referrals.refused)} refused
                  </td>
                </tr>
                <tr>
                  <th scope="row">Wheel</th>
                  <td>
                    {count(o.wheel.spins)} spins · {count(o.wheel.prizesWon)} prizes won
                  </td>
                </tr>
                {o.wheel.byPrize.map((p) => (
                  <tr key={p.prizeId}>
                    <td className="sub">{p.label}</td>
                    <td>
                      {count(p.spins)} drawn · {count(p.won)} won
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      </div>
      {o.topEarners.length > 0 ? (
        <DataTable
          title="Top earners"
          filename="fidelio-loyalty-top-earners.csv"
          rows={o.topEarners}
          note="By points earned since they joined."
          columns={[
            { label: "Customer", csv: (r) => r.externalId, show: (r) => customerLink(r.externalId, open) },
            { label: "Email", csv: (r) => r.email },
            { label: "Earned", csv: (r) => r.earned, show: (r) => count(r.earned), numeric: true },
            { label: "Balance", csv: (r) => r.balance, show: (r) => count(r.balance), numeric: true },
            { label: "Spent", csv: (r) => r.spent, show: (r) => count(r.spent), numeric: true },
            { label: "Tier", csv: (r) => r.tier, show: (r) => r.tier ?? "—" },
            { label: "Last activity", csv: (r) => r.lastActivityAt, show: (r) => (r.lastActivityAt ? minuteOf(r.lastActivityAt) : "—") },
          ]}
        />
      ) : null}
    </>
  );
}

const PAGE = 50;
const SORTS = [
  { value: "balance", label: "Balance" },
  { value: "earned", label: "Points earned" },
  { value: "spent", label: "Points spent" },
  { value: "lastActivity", label: "Last activity" },
] as const;

function Members({ open }: { open: (id: string) => void }) {
  const [sort, setSort] = useState("balance");
  const [offset, setOffset] = useState(0);
  const params = { sort, limit: PAGE, offset };
  const list = useQuery({
    queryKey: ["loyalty-members", params],
    queryFn: () => api<{ total: number; items: LoyaltyMember[] }>(`/api/loyalty/members${query(params)}`),
    placeholderData: keepPreviousData,
  });
  if (list.isPending) return <Loading what="members" />;
  if (list.isError) return <ErrorBox error={list.error} retry={() => void list.refetch()} />;
  const { total, items } = list.data;
  if (total === 0) return null;
  return (
    <section className="card table-card">
      <header className="card-head">
        <h2 data-testid="members-total" data-value={total}>
          Members {count(offset + 1)}–{count(Math.min(offset + PAGE, total))} of {count(total)}
        </h2>
        <div className="filters">
          <label>
            Sort by
            <select
              aria-label="Sort members by"
              value={sort}
              onChange={(e) => {
                setSort(e.target.value);
                setOffset(0);
              }}
            >
              {SORTS.map((s) => (
                <option key={s.value} value={s.value}>
                  {s.label}
                </option>
              ))}
            </select>
          </label>
          <OffsetPager offset={offset} page={PAGE} total={total} go={setOffset} />
        </div>
      </header>
      <div className="table-scroll">
        <table data-testid="members-table">
          <thead>
            <tr>
              <th scope="col">Customer</th>
              <th scope="col" className="num">
                Balance
              </th>
              <th scope="col" className="num">
                Earned
              </th>
              <th scope="col" className="num">
                Spent
              </th>
              <th scope="col">Tier</th>
              <th scope="col">Last activity</th>
            </tr>
          </thead>
          <tbody>
            {items.map((m) => (
              <tr key={m.externalId}>
                <td>
                  {customerLink(m.externalId, open)}
                  {m.email ? <div className="sub">{m.email}</div> : null}
                </td>
                <td className="num">{count(m.balance)}</td>
                <td className="num">{count(m.earned)}</td>
                <td className="num">{count(m.spent)}</td>
                <td>{m.tier ?? "—"}</td>
                <td>{m.lastActivityAt ? minuteOf(m.lastActivityAt) : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

const KINDS = [
  { value: "fixed", label: "Amount off" },
  { value: "percent", label: "Percent off" },
  { value: "freeShipping", label: "Free shipping" },
  { value: "freeProduct", label: "Free product" },
] as const;

function rewardValue(r: Reward): string {
  return r.kind === "freeProduct" ? `product ${r.productId ?? "—"}` : discountGives(r.kind, r.value);
}

/** A typed number, or null for an empty field (the server then names it). */
const numberOf = (v: string): number | null => (v.trim() === "" ? null : Number(v));

function Rewards() {
  const qc = useQueryClient();
  const rewards = useQuery({ queryKey: ["loyalty-rewards"], queryFn: () => api<Reward[]>("/api/loyalty/rewards") });
  const [name, setName] = useState("");
  const [kind, setKind] = useState<Reward["kind"]>("fixed");
  const [value, setValue] = useState("");
  const [productId, setProductId] = useState("");
  const [cost, setCost] = useState("");
  const [limit, setLimit] = useState("");
  const add = useMutation({
    mutationFn: (body: unknown) => api<Reward>("/api/loyalty/rewards", { method: "POST", body }),
    onSuccess: () => {
      setName("");
      setValue("");
      setProductId("");
      setCost("");
      setLimit("");
      void qc.invalidateQueries({ queryKey: ["loyalty-rewards"] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const typed = numberOf(value);
    add.mutate({
      name,
      kind,
      ...(kind === "fixed" && typed !== null ? { value: toMinor(typed) } : {}),
      ...(kind === "percent" && typed !== null ? { value: typed } : {}),
      ...(kind === "freeProduct" && productId.trim() !== "" ? { productId: productId.trim() } : {}),
      cost: numberOf(cost),
      perCustomerLimit: numberOf(limit),
    });
  };
  const kinds = (k: string) => KINDS.find((x) => x.value === k);
  return (
    <section className="card" data-testid="rewards">
      <h2>Rewards</h2>
      {rewards.isPending ? (
        <Loading what="the rewards" />
      ) : rewards.isError ? (
        <ErrorBox error={rewards.error} retry={() => void rewards.refetch()} />
      ) : rewards.data.length === 0 ? (
        <p className="note">No reward yet: members have nothing to spend their points on. Add one below.</p>
      ) : (
        <div className="table-scroll">
          <table data-testid="rewards-table">
            <thead>
              <tr>
                <th scope="col">Reward</th>
                <th scope="col">Gives</th>
                <th scope="col" className="num">
                  Cost (points)
                </th>
                <th scope="col" className="num">
                  Per customer
                </th>
                <th scope="col">Active</th>
              </tr>
            </thead>
            <tbody>
              {rewards.data.map((r) => (
                <tr key={r.id}>
                  <td>
                    {r.name}
                    {r.minTier || r.membersOnly ? <span className="sub">{[r.minTier ? `${r.minTier} and above` : "", r.membersOnly ? "paid members" : ""].filter(Boolean).join(", ")}</span> : null}
                  </td>
                  <td>{rewardValue(r)}</td>
                  <td className="num">{count(r.cost)}</td>
                  <td className="num">{r.perCustomerLimit === null ? "no limit" : count(r.perCustomerLimit)}</td>
                  <td>
                    <OfferToggle path={`/api/loyalty/rewards/${r.id}`} queryKey="loyalty-rewards" active={r.active} testId={`reward-offer-${r.id}`} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h3>Add a reward</h3>
      <form className="form-row" onSubmit={submit} data-testid="reward-form">
        <label>
          Name
          <input aria-label="Reward name" value={name} onChange={(e) => setName(e.target.value)} placeholder="€5 off" />
        </label>
        <label>
          Kind
          <select aria-label="Reward kind" value={kind} onChange={(e) => setKind(kinds(e.target.value)?.value ?? "fixed")}>
            {KINDS.map((k) => (
              <option key={k.value} value={k.value}>
                {k.label}
              </option>
            ))}
          </select>
        </label>
        {kind === "fixed" || kind === "percent" ? (
          <label>
            {kind === "fixed" ? "Amount off" : "Percent off"}
            <input aria-label="Reward value" type="number" min={0} step={kind === "fixed" ? "0.01" : "1"} value={value} onChange={(e) => setValue(e.target.value)} />
          </label>
        ) : null}
        {kind === "freeProduct" ? (
          <label>
            Product id
            <input aria-label="Reward product" value={productId} onChange={(e) => setProductId(e.target.value)} />
          </label>
        ) : null}
        <label>
          Cost in points
          <input aria-label="Reward cost" type="number" min={1} step="1" value={cost} onChange={(e) => setCost(e.target.value)} />
        </label>
        <label>
          Per customer
          <input aria-label="Reward limit" type="number" min={1} step="1" value={limit} onChange={(e) => setLimit(e.target.value)} placeholder="no limit" />
        </label>
        <button type="submit" disabled={add.isPending} data-testid="add-reward">
          {add.isPending ? "Adding…" : "Add"}
        </button>
      </form>
      {add.isError ? (
        <p className="field-error" role="alert" data-testid="reward-error">
          {add.error.message}
        </p>
      ) : null}
    </section>
  );
}

type ExpiryMode = LoyaltySettings["expiry"]["mode"];
const EXPIRY_MODES: { value: ExpiryMode; label: string }[] = [
  { value: "none", label: "never" },
  { value: "inactivity", label: "after a time without activity" },
  { value: "age", label: "a time after they were earned" },
];

interface Draft {
  enabled: boolean;
  pointsPerUnit: string;
  creditAfterDays: string;
  pointValueMinor: string;
  expiryMode: ExpiryMode;
  expiryDays: string;
  remindDaysBefore: string;
  /** Every other setting, as JSON. */
  rest: string;
}

function draftOf(s: LoyaltySettings): Draft {
  const { enabled, pointsPerUnit, creditAfterDays, pointValueMinor, expiry, ...rest } = s;
  return {
    enabled,
    pointsPerUnit: String(pointsPerUnit),
    creditAfterDays: String(creditAfterDays),
    pointValueMinor: String(pointValueMinor),
    expiryMode: expiry.mode,
    expiryDays: expiry.mode === "none" ? "365" : String(expiry.days),
    remindDaysBefore: expiry.mode === "none" ? "14" : String(expiry.remindDaysBefore),
    rest: JSON.stringify(rest, null, 2),
  };
}

function SettingsForm() {
  const qc = useQueryClient();
  const settings = useQuery(settingsQuery);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [jsonError, setJsonError] = useState<string | null>(null);
  useEffect(() => {
    if (settings.data && draft === null) setDraft(draftOf(settings.data));
  }, [settings.data, draft]);
  const save = useMutation({
    mutationFn: (body: unknown) => api<LoyaltySettings>("/api/loyalty/settings", { method: "PUT", body }),
    onSuccess: (s) => {
      setDraft(draftOf(s));
      qc.setQueryData(["loyalty-settings"], s);
      // The wheel, the allowed origins and the figures follow the settings.
      void refreshLoyalty(qc);
    },
  });
  if (settings.isPending || (settings.isSuccess && draft === null)) return <Loading what="the programme settings" />;
  if (settings.isError) return <ErrorBox error={settings.error} retry={() => void settings.refetch()} />;
  if (draft === null) return null;
  const set = (patch: Partial<Draft>) => setDraft({ ...draft, ...patch });
  const submit = () => {
    let rest: unknown;
    try {
      rest = JSON.parse(draft.rest);
    } catch (err) {
      setJsonError(`The other settings are not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (typeof rest !== "object" || rest === null || Array.isArray(rest)) {
      setJsonError("The other settings must be a JSON object, { … }.");
      return;
    }
    setJsonError(null);
    const expiry = draft.expiryMode === "none" ? { mode: "none" } : { mode: draft.expiryMode, days: numberOf(draft.expiryDays), remindDaysBefore: numberOf(draft.remindDaysBefore) };
    save.mutate({
      ...rest,
      enabled: draft.enabled,
      pointsPerUnit: numberOf(draft.pointsPerUnit),
      creditAfterDays: numberOf(draft.creditAfterDays),
      pointValueMinor: numberOf(draft.pointValueMinor),
      expiry,
    });
  };
  const undo = () => {
    if (settings.data) setDraft(draftOf(settings.data));
    setJsonError(null);
    save.reset();
  };
  const pointValue = numberOf(draft.pointValueMinor);
  return (
    <section className="card" data-testid="loyalty-settings">
      <h2>Programme settings</h2>
      <p className="note">
        Points are earned on an order's subtotal net of discounts (shipping and tax earn nothing), once its return window has passed. Switching the programme on for the first time starts it now: earlier orders earn nothing.
      </p>
      <div className="form-row">
        <label className="check">
          <input type="checkbox" aria-label="Programme on" checked={draft.enabled} onChange={(e) => set({ enabled: e.target.checked })} /> Programme on
        </label>
        <label>
          Points per currency unit
          <input aria-label="Points per unit" type="number" step="any" value={draft.pointsPerUnit} onChange={(e) => set({ pointsPerUnit: e.target.value })} />
        </label>
        <label>
          Credit after (days)
          <input aria-label="Credit after days" type="number" step="1" value={draft.creditAfterDays} onChange={(e) => set({ creditAfterDays: e.target.value })} />
        </label>
        <label>
          Value of a point (minor units)
          <input aria-label="Point value" type="number" step="any" value={draft.pointValueMinor} onChange={(e) => set({ pointValueMinor: e.target.value })} />
        </label>
        <label>
          Points expire
          <select aria-label="Expiry" value={draft.expiryMode} onChange={(e) => set({ expiryMode: EXPIRY_MODES.find((m) => m.value === e.target.value)?.value ?? "none" })}>
            {EXPIRY_MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </select>
        </label>
        {draft.expiryMode !== "none" ? (
          <>
            <label>
              Days
              <input aria-label="Expiry days" type="number" step="1" value={draft.expiryDays} onChange={(e) => set({ expiryDays: e.target.value })} />
            </label>
            <label>
              Remind days before
              <input aria-label="Remind days before" type="number" step="1" value={draft.remindDaysBefore} onChange={(e) => set({ remindDaysBefore: e.target.value })} />
            </label>
          </>
        ) : null}
      </div>
      {pointValue !== null && Number.isFinite(pointValue) ? <p className="note">100 points cost the shop {money(Math.round(pointValue * 100))}.</p> : null}
      <label>
        Everything else (tiers, bonuses, campaigns, referrals, wheel, storefront, code webhook), as JSON
        <textarea className="code" aria-label="Other settings (JSON)" rows={16} spellCheck={false} value={draft.rest} onChange={(e) => set({ rest: e.target.value })} />
      </label>
      {jsonError ? (
        <p className="field-error" role="alert" data-testid="settings-error">
          {jsonError}
        </p>
      ) : save.isError ? (
        <p className="field-error" role="alert" data-testid="settings-error">
          Not saved. {save.error.message}
        </p>
      ) : null}
      <div className="actions">
        <button type="button" onClick={submit} disabled={save.isPending} data-testid="save-loyalty-settings">
          {save.isPending ? "Saving…" : "Save"}
        </button>
        <button type="button" className="secondary" onClick={undo}>
          Undo changes
        </button>
        {save.isSuccess && !save.isPending ? <span role="status" data-testid="settings-saved">Saved.</span> : null}
      </div>
    </section>
  );
}
