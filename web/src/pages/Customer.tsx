import { useQuery } from "@tanstack/react-query";
import { api, ApiError } from "../api.ts";
import { count, days, decimal, money, pct, minuteOf } from "../format.ts";
import type { CustomerPoints, CustomerPrediction, CustomerProfile, CustomerReferrals, EventView, Membership, OrderSummary, Referral, StoredScore, MessageView, TierProgress } from "../types.ts";
import { ErrorBox, Loading } from "../components/States.tsx";
import { periodText, perksText } from "./LoyaltyProgramme.tsx";
import { SIGNAL_KEYS, SIGNAL_LABELS, SignalMarks, StageBadge } from "../components/Scores.tsx";

type Predictions = { scores: StoredScore & { meaning: string[] }; prediction: CustomerPrediction | null };
type TimelineItem = { at: string; kind: "order" | "event"; title: string; detail: string };

/** One customer: who they are, what the models say, and what they did, newest first. */
export function Customer(props: { externalId: string; back: () => void }) {
  const id = encodeURIComponent(props.externalId);
  const profile = useQuery({ queryKey: ["customer", props.externalId], queryFn: () => api<CustomerProfile>(`/api/customers/${id}`) });
  const predictions = useQuery({ queryKey: ["customer-predictions", props.externalId], queryFn: () => api<Predictions>(`/api/customers/${id}/predictions`) });
  const orders = useQuery({ queryKey: ["customer-orders", props.externalId], queryFn: () => api<OrderSummary[]>(`/api/customers/${id}/orders?limit=200`) });
  const segments = useQuery({ queryKey: ["customer-segments", props.externalId], queryFn: () => api<{ id: number; name: string; enteredAt: string }[]>(`/api/customers/${id}/segments`) });
  const messages = useQuery({ queryKey: ["customer-messages", props.externalId], queryFn: () => api<MessageView[]>(`/api/customers/${id}/messages`) });
  const events = useQuery({ queryKey: ["customer-events", props.externalId], queryFn: () => api<{ events: EventView[] }>(`/api/customers/${id}/events?limit=200`) });
  if (profile.isPending) return <Loading what="the customer" />;
  if (profile.isError) return <ErrorBox error={profile.error} retry={() => void profile.refetch()} />;
  const p = profile.data;
  const name = [p.firstName, p.lastName].filter(Boolean).join(" ") || p.email || p.externalId;
  const s = predictions.data?.scores;
  const timeline: TimelineItem[] = [
    ...(orders.data ?? []).map((o) => ({
      at: o.placedAt,
      kind: "order" as const,
      title: `Order ${o.externalId} · ${money(o.totalMinor)}${o.refundedMinor > 0 ? ` (refunded ${money(o.refundedMinor)})` : ""}`,
      detail: `${count(o.items)} item${o.items === 1 ? "" : "s"}: ${o.titles.join(", ")} · ${o.status}`,
    })),
    ...(events.data?.events ?? []).map((e) => ({ at: e.occurredAt, kind: "event" as const, title: e.name ?? e.type, detail: eventDetail(e) })),
  ].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  return (
    <>
      <p>
        <a href="/customers" onClick={(e) => { e.preventDefault(); props.back(); }}>
          ← All customers
        </a>
      </p>
      <header className="customer-head">
        <h2 data-testid="customer-name">{name}</h2>
        {s ? <StageBadge stage={s.stage} /> : null}
        <span className="sub">
          {p.email ?? "no email"} · id {p.externalId}
          {p.acquisitionChannel ? ` · came through ${p.acquisitionChannel}` : ""}
          {p.timeZone ? ` · ${p.timeZone}` : ""}
        </span>
      </header>
      {segments.data && segments.data.length > 0 ? (
        <p className="stage-chips" data-testid="customer-segments" aria-label="Segments">
          {segments.data.map((g) => (
            <a key={g.id} className="chip" href={`/segments/${g.id}`} title={`member since ${minuteOf(g.enteredAt)}`}>
              {g.name}
            </a>
          ))}
        </p>
      ) : null}
      {predictions.isPending ? (
        <Loading what="predictions" />
      ) : predictions.isError ? (
        predictions.error instanceof ApiError && predictions.error.status === 404 ? (
          <p className="note">{predictions.error.message}</p>
        ) : (
          <ErrorBox error={predictions.error} retry={() => void predictions.refetch()} />
        )
      ) : s ? (
        <>
          <section className="figures" aria-label="Predictions">
            <article className="figure" data-testid="customer-alive" data-value={s.probabilityAlive ?? ""}>
              <h3>Probability alive</h3>
              <p className="value">{pct(s.probabilityAlive, 0)}</p>
              <span className="delta none">BG/NBD, model v{s.modelVersion ?? "—"}</span>
            </article>
            <article className="figure">
              <h3>Expected orders, next year</h3>
              <p className="value">{decimal(s.expectedPurchases365)}</p>
              <span className="delta none">next expected by {s.expectedNextOrderOn ?? "—"}</span>
            </article>
            <article className="figure">
              <h3>Predicted CLV (1 year)</h3>
              <p className="value">{money(s.clvMinor)}</p>
              <span className="delta none">expected order {money(s.expectedOrderValueMinor)}</span>
            </article>
            <article className="figure">
              <h3>Orders · net revenue</h3>
              <p className="value">{count(s.orders)}</p>
              <span className="delta none">{money(s.netRevenueMinor)} · rhythm {days(s.rhythmDays)}</span>
            </article>
            <article className="figure">
              <h3>RFM</h3>
              <p className="value">{s.rfm?.code ?? "—"}</p>
              <span className="delta none">{s.rfm?.segment ?? "no order"}</span>
            </article>
          </section>
          <div className="grid2">
            <section className="card">
              <h2>What it means</h2>
              <ul className="meaning" data-testid="customer-meaning">
                {s.meaning.map((m) => (
                  <li key={m}>{m}</li>
                ))}
              </ul>
            </section>
            <section className="card">
              <h2>Churn signals</h2>
              <ul className="checks" data-testid="customer-signals">
                {SIGNAL_KEYS.map((k) => (
                  <li key={k} className={s.signals[k] ? "on" : "off"}>
                    {s.signals[k] ? "●" : "○"} {SIGNAL_LABELS[k]}
                  </li>
                ))}
              </ul>
              <SignalMarks signals={s.signals} />
              <p className="note">Scored {new Date(s.scoredAt).toLocaleString()}; rules in the Models page and src/predictions/README.md.</p>
            </section>
          </div>
        </>
      ) : null}
      <LoyaltyCard externalId={props.externalId} />
      {messages.data && messages.data.length > 0 ? (
        <section className="card table-card">
          <h2>Messages</h2>
          <div className="table-scroll">
            <table data-testid="customer-messages">
              <thead>
                <tr>
                  <th scope="col">Queued</th>
                  <th scope="col">Journey</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Status</th>
                  <th scope="col">Why</th>
                </tr>
              </thead>
              <tbody>
                {messages.data.map((m) => (
                  <tr key={m.id}>
                    <td>{minuteOf(m.createdAt)}</td>
                    <td>{m.journey ?? ""}</td>
                    <td>{m.subject ?? ""}</td>
                    <td>
                      <span className={`badge msg-${m.status}`}>{m.status}</span>
                    </td>
                    <td>{m.status === "sent" ? `sent ${minuteOf(m.sentAt ?? m.createdAt)}` : m.deferred ? `${m.deferred}, due ${minuteOf(m.dueAt)}` : (m.error ?? "")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
      <section className="card">
        <h2>Timeline</h2>
        {orders.isPending || events.isPending ? <Loading what="the timeline" /> : timeline.length === 0 ? <p className="note">Nothing yet.</p> : (
          <ol className="timeline" data-testid="timeline">
            {timeline.map((t, i) => (
              <li key={`${t.at}-${i}`} className={t.kind}>
                <time dateTime={t.at}>{new Date(t.at).toLocaleString()}</time>
                <strong>{t.title}</strong>
                <span className="sub">{t.detail}</span>
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
}

function eventDetail(e: EventView): string {
  const props = e.properties;
  if (typeof props === "object" && props !== null) {
    const parts: string[] = [];
    for (const key of ["name", "category", "url", "path", "title"]) {
      if (key in props) {
        const v: unknown = Reflect.get(props, key);
        if (typeof v === "string" || typeof v === "number") parts.push(String(v));
      }
    }
    if (parts.length > 0) return parts.join(" · ");
  }
  return e.type;
}

/** The customer in the loyalty programme: points, tier and the way to the next, paid membership, referrals. */
function LoyaltyCard({ externalId }: { externalId: string }) {
  const id = encodeURIComponent(externalId);
  const points = useQuery({ queryKey: ["loyalty-customer", externalId], queryFn: () => api<CustomerPoints>(`/api/loyalty/customers/${id}`) });
  const referrals = useQuery({ queryKey: ["loyalty-customer-referrals", externalId], queryFn: () => api<CustomerReferrals>(`/api/loyalty/customers/${id}/referrals`) });
  return (
    <section className="card" data-testid="customer-loyalty">
      <h2>Loyalty</h2>
      {points.isPending ? (
        <Loading what="the customer's points" />
      ) : points.isError ? (
        <ErrorBox error={points.error} retry={() => void points.refetch()} />
      ) : (
        <div className="facts">
          <div>
            <h3>Points</h3>
            <p className="value" data-testid="customer-points" data-value={points.data.balance}>
              {count(points.data.balance)}
            </p>
            <span className="sub">
              {count(points.data.earned)} earned · {count(points.data.spent)} spent
              {points.data.lastActivityAt ? ` · last activity ${minuteOf(points.data.lastActivityAt)}` : ""}
            </span>
          </div>
          <TierFact tier={points.data.tier} />
          <MembershipFact m={points.data.membership} />
        </div>
      )}
      <h3 className="subhead">Referrals</h3>
      {referrals.isPending ? (
        <Loading what="the customer's referrals" />
      ) : referrals.isError ? (
        <ErrorBox error={referrals.error} retry={() => void referrals.refetch()} />
      ) : (
        <ReferralsFact r={referrals.data} />
      )}
      {points.data && points.data.entries.length > 0 ? (
        <details>
          <summary>Latest points entries ({count(points.data.entries.length)})</summary>
          <div className="table-scroll">
            <table data-testid="customer-ledger">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Kind</th>
                  <th scope="col" className="num">
                    Points
                  </th>
                  <th scope="col" className="num">
                    Balance after
                  </th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {points.data.entries.map((e) => (
                  <tr key={e.id}>
                    <td>{minuteOf(e.createdAt)}</td>
                    <td>{e.kind}</td>
                    <td className="num">{e.points > 0 ? `+${count(e.points)}` : count(e.points)}</td>
                    <td className="num">{count(e.balanceAfter)}</td>
                    <td>
                      {e.reason}
                      {e.reference ? <span className="sub">{e.reference}</span> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      ) : null}
    </section>
  );
}

function TierFact({ tier }: { tier: TierProgress | null }) {
  if (tier === null) {
    return (
      <div>
        <h3>Tier</h3>
        <p className="note">The programme has no tiers.</p>
      </div>
    );
  }
  const amount = (n: number) => (tier.basis === "spend" ? money(n) : `${count(n)} points`);
  // The way from nothing to the next threshold over the rolling window; full at the top tier.
  const share = tier.next ? Math.min(1, Math.max(0, tier.value / tier.next.threshold)) : 1;
  return (
    <div>
      <h3>Tier</h3>
      <p className="value" data-testid="customer-tier">
        {tier.tier?.name ?? "No tier yet"}
      </p>
      <p data-testid="tier-message">{tier.message}</p>
      <div
        className="progress"
        role="progressbar"
        aria-label={tier.next ? `Progress toward ${tier.next.name}` : "Top tier reached"}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(share * 100)}
        data-testid="tier-progress"
      >
        <div style={{ width: `${share * 100}%` }} />
      </div>
      <span className="sub">
        {amount(tier.value)} {tier.basis === "spend" ? "spent" : "earned"} over the last {count(tier.windowDays)} days
        {tier.next ? ` · ${tier.next.name} at ${amount(tier.next.threshold)}` : ""}
        {tier.tier && tier.tier.multiplier !== 1 ? ` · points × ${tier.tier.multiplier}` : ""}
        {tier.tier && tier.tier.perks.length > 0 ? ` · ${tier.tier.perks.join(", ")}` : ""}
      </span>
    </div>
  );
}

const MEMBERSHIP_BADGE: Record<Membership["status"], string> = { active: "ok", lapsed: "warn", ended: "bad" };

function MembershipFact({ m }: { m: Membership | null }) {
  if (m === null) {
    return (
      <div data-testid="customer-membership">
        <h3>Paid membership</h3>
        <p className="note">None.</p>
      </div>
    );
  }
  const day = m.periodEnd.slice(0, 10);
  return (
    <div data-testid="customer-membership">
      <h3>Paid membership</h3>
      <p className="value">
        {m.plan.name} <span className={`badge ${MEMBERSHIP_BADGE[m.status]}`}>{m.status}</span>
      </p>
      <span className="sub">
        {money(m.plan.priceMinor, { currency: m.plan.currency })} {periodText(m.plan.period)} · member since {m.startedAt.slice(0, 10)}
      </span>
      <span className="sub" data-testid="membership-period">
        {m.status === "active"
          ? m.cancelAtPeriodEnd
            ? `Cancelled: stays active until ${day}, then ends`
            : `Paid to ${day}; lapses then unless renewed`
          : m.status === "lapsed"
            ? `Lapsed: not renewed after ${day}`
            : `${m.cancelAtPeriodEnd ? "Cancelled; ended" : "Ended"} ${day}`}
      </span>
      <span className="sub">Perks: {perksText(m.plan.perks)}</span>
    </div>
  );
}

const REFERRAL_BADGE: Record<Referral["status"], string> = { pending: "info", qualified: "info", rewarded: "ok", refused: "bad" };

function ReferralsFact({ r }: { r: CustomerReferrals }) {
  return (
    <>
      {r.code === null ? (
        <p className="sub">No referral code: referrals are off in the programme settings.</p>
      ) : (
      <p>
        Code <code data-testid="referral-code">{r.code}</code>
        {r.link ? (
          <>
            {" "}
            · link{" "}
            <a href={r.link} target="_blank" rel="noreferrer" data-testid="referral-link">
              {r.link}
            </a>
          </>
        ) : (
          <span className="sub">No link: set “referrals.landingUrl” in the programme settings to give referrers a link to share.</span>
        )}
      </p>
      )}
      {r.referrals.length === 0 ? (
        <p className="note">Nobody has used this code yet.</p>
      ) : (
        <div className="table-scroll">
          <table data-testid="customer-referrals">
            <thead>
              <tr>
                <th scope="col">Friend</th>
                <th scope="col">Since</th>
                <th scope="col">Status</th>
                <th scope="col">Welcome code</th>
              </tr>
            </thead>
            <tbody>
              {r.referrals.map((x) => (
                <tr key={x.id}>
                  <td>
                    <a href={`/customers/${encodeURIComponent(x.referee)}`}>{x.referee}</a>
                  </td>
                  <td>{minuteOf(x.createdAt)}</td>
                  <td>
                    <span className={`badge ${REFERRAL_BADGE[x.status]}`}>{x.status}</span>
                    {x.refusedWhy ? <span className="sub">{x.refusedWhy}</span> : null}
                  </td>
                  <td>{x.welcomeCode ? <code>{x.welcomeCode}</code> : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
