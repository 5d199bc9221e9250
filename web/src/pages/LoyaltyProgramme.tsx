/** The Loyalty page's programme sections: the worker's pass, spin-to-win, paid membership and the storefront widget. */
import { useState, type FormEvent, type ReactNode } from "react";
import { useMutation, useQuery, useQueryClient, type QueryClient, type UseQueryResult } from "@tanstack/react-query";
import { api, ApiError } from "../api.ts";
import { count, currentCurrency, minuteOf, money, pct, toMinor } from "../format.ts";
import type { LoyaltySettings, Plan, RecentSpin, StorefrontSetup, WheelAudit } from "../types.ts";
import { BarChart } from "../components/Charts.tsx";
import { ErrorBox, Loading } from "../components/States.tsx";

/** A link to a customer's page that stays in the app (a modified click opens a tab). */
export function customerLink(externalId: string, open: (id: string) => void): ReactNode {
  return (
    <a
      href={`/customers/${encodeURIComponent(externalId)}`}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        open(externalId);
      }}
    >
      {externalId}
    </a>
  );
}

/** Every query of the programme (their keys start with "loyalty"), asked again. */
export function refreshLoyalty(qc: QueryClient): Promise<void> {
  return qc.invalidateQueries({ predicate: (q) => typeof q.queryKey[0] === "string" && q.queryKey[0].startsWith("loyalty") });
}

/** The programme's settings, one cache entry for every page that reads them. */
export const settingsQuery = { queryKey: ["loyalty-settings"], queryFn: () => api<LoyaltySettings>("/api/loyalty/settings") };

/** The worker's pass, now: what it did, line by line. */
export function RunPass() {
  const qc = useQueryClient();
  const run = useMutation({
    mutationFn: () => api<{ log: string[] }>("/api/loyalty/run", { method: "POST" }),
    onSuccess: () => refreshLoyalty(qc),
  });
  return (
    <section className="card" data-testid="loyalty-run">
      <header className="card-head">
        <h2>The loyalty worker</h2>
        <button type="button" onClick={() => run.mutate()} disabled={run.isPending} data-testid="run-loyalty">
          {run.isPending ? "Running…" : "Run the loyalty pass now"}
        </button>
      </header>
      <p className="note">
        The server runs it every <code>FIDELIO_LOYALTY_EVERY_SECONDS</code> (60 by default): points for orders past their return window and for bonus events, clawbacks on refunds, referrals, tiers, paid memberships that lapse or
        end, and expiry. Run it now to see a change at once.
      </p>
      {run.isError ? (
        <p className="field-error" role="alert" data-testid="run-error">
          {run.error.message}
        </p>
      ) : run.data ? (
        run.data.log.length === 0 ? (
          <p role="status" data-testid="run-log" data-lines={0}>
            Done: there was nothing to do.
          </p>
        ) : (
          <ul className="log" role="status" data-testid="run-log" data-lines={run.data.log.length}>
            {run.data.log.map((line, i) => (
              <li key={i}>{line}</li>
            ))}
          </ul>
        )
      ) : null}
    </section>
  );
}

type WheelPrize = LoyaltySettings["wheel"]["prizes"][number];

/** What a discount gives, in words: rewards and wheel prizes share the kinds. */
export function discountGives(kind: "fixed" | "percent" | "freeShipping", value: number | null | undefined): string {
  if (kind === "fixed") return `${money(value)} off`;
  if (kind === "percent") return `${value ?? "—"} % off`;
  return "free shipping";
}

function prizeGives(kind: WheelPrize["kind"], value: number | undefined): string {
  if (kind === "none") return "no prize";
  if (kind === "points") return `${count(value)} points`;
  return discountGives(kind, value);
}

/** Spin-to-win: the odds as configured against what was drawn, the stock, and the latest spins. */
export function Wheel({ open }: { open: (id: string) => void }) {
  const audit = useQuery({ queryKey: ["loyalty-wheel"], queryFn: () => api<WheelAudit>("/api/loyalty/wheel") });
  const spins = useQuery({ queryKey: ["loyalty-wheel-spins"], queryFn: () => api<RecentSpin[]>("/api/loyalty/wheel/spins") });
  const settings = useQuery(settingsQuery);
  return (
    <section className="card" data-testid="wheel">
      <h2>Spin-to-win</h2>
      {audit.isPending ? (
        <Loading what="the wheel" />
      ) : audit.isError ? (
        <ErrorBox error={audit.error} retry={() => void audit.refetch()} />
      ) : (
        <WheelBody a={audit.data} settings={settings.data} spins={spins} open={open} />
      )}
    </section>
  );
}

function WheelBody({ a, settings, spins, open }: { a: WheelAudit; settings: LoyaltySettings | undefined; spins: UseQueryResult<RecentSpin[]>; open: (id: string) => void }) {
  if (a.prizes.length === 0 && a.spins === 0) {
    return (
      <div className="state empty" data-testid="wheel-empty">
        <strong>No wheel yet.</strong> Add prizes under “wheel” in the programme settings below, e.g.{" "}
        <code>
          {`{"enabled": true, "periodDays": 7, "prizes": [{"id": "ten-off", "label": "10 % off", "weight": 20, "kind": "percent", "value": 10, "stock": 100}, {"id": "none", "label": "Next time", "weight": 80, "kind": "none"}]}`}
        </code>
        . The odds add up to 100 %. Customers spin from the storefront widget, once per period; the server draws.
      </div>
    );
  }
  const configured = (id: string) => settings?.wheel.prizes.find((p) => p.id === id);
  const off = settings !== undefined && (!settings.enabled || !settings.wheel.enabled);
  const won = a.prizes.reduce((s, p) => s + (p.kind === "none" ? 0 : p.won), 0);
  return (
    <>
      {off ? (
        <p className="note" data-testid="wheel-off">
          The wheel is switched off{settings?.enabled ? "" : " (so is the programme)"}: customers cannot spin. Switch it on with <code>"enabled": true</code> under “wheel” in the settings below.
        </p>
      ) : null}
      <section className="figures" aria-label="Wheel figures">
        <article className="figure" data-testid="wheel-spins" data-value={a.spins}>
          <h3>Spins</h3>
          <p className="value">{count(a.spins)}</p>
        </article>
        <article className="figure" data-testid="wheel-won" data-value={won} title="Prizes given: neither “no prize” nor a prize drawn out of stock">
          <h3>Prizes given</h3>
          <p className="value">{count(won)}</p>
        </article>
        <article className="figure" data-testid="wheel-out-of-stock" data-value={a.outOfStock} title="Draws that landed on a prize with no stock left: recorded as no prize">
          <h3>Drawn out of stock</h3>
          <p className="value">{count(a.outOfStock)}</p>
        </article>
      </section>
      {a.spins === 0 ? (
        <div className="state empty" data-testid="wheel-no-spin">
          <strong>No spin yet.</strong> Customers spin from the storefront widget (<code>POST /api/storefront/me/spins</code>); the odds below are then compared with what was drawn.
        </div>
      ) : (
        <BarChart
          label="Configured odds and share drawn per prize"
          labels={a.prizes.map((p) => p.label)}
          series={[
            { label: "Configured odds", data: a.prizes.map((p) => p.odds / 100) },
            { label: "Share drawn", data: a.prizes.map((p) => p.drawnShare) },
          ]}
          format={(v) => pct(v, 0)}
        />
      )}
      {a.spins > 0 && a.spins < 100 ? <p className="note">With {count(a.spins)} spins the shares drawn can stray a long way from the odds by chance alone; they converge as spins add up.</p> : null}
      <div className="table-scroll">
        <table data-testid="wheel-prizes">
          <thead>
            <tr>
              <th scope="col">Prize</th>
              <th scope="col">Gives</th>
              <th scope="col" className="num">
                Odds
              </th>
              <th scope="col" className="num">
                Drawn
              </th>
              <th scope="col" className="num">
                Share drawn
              </th>
              <th scope="col" className="num">
                Won
              </th>
              <th scope="col" className="num">
                Stock left
              </th>
            </tr>
          </thead>
          <tbody>
            {a.prizes.map((p) => (
              <tr key={p.id} data-prize={p.id} data-drawn={p.drawn} data-won={p.won}>
                <td>
                  {p.label}
                  <span className="sub">{p.id}</span>
                </td>
                <td>{prizeGives(p.kind, configured(p.id)?.value)}</td>
                <td className="num">{p.odds} %</td>
                <td className="num">{count(p.drawn)}</td>
                <td className="num">{pct(p.drawnShare)}</td>
                <td className="num">{p.kind === "none" ? "—" : count(p.won)}</td>
                <td className="num">{p.left === null ? "no limit" : `${count(p.left)} of ${count(p.stock)}`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {a.retired.length > 0 ? (
        <p className="note" data-testid="wheel-retired">
          Prizes no longer on the wheel (it was changed since): {a.retired.map((r) => `${r.prizeId}, ${count(r.drawn)} drawn and ${count(r.won)} won`).join("; ")}.
        </p>
      ) : null}
      <h3 className="subhead">Latest spins</h3>
      {spins.isPending ? (
        <Loading what="the latest spins" />
      ) : spins.isError ? (
        <ErrorBox error={spins.error} retry={() => void spins.refetch()} />
      ) : spins.data.length === 0 ? (
        <p className="note">No spin yet.</p>
      ) : (
        <>
          <p className="note">
            The draw is a number from 0 to 999,999 laid over the odds in parts per million, in the order the prizes are listed: anyone can check a result against the odds of the day.
          </p>
          <div className="table-scroll">
            <table data-testid="wheel-spins-table">
              <thead>
                <tr>
                  <th scope="col">Customer</th>
                  <th scope="col">When</th>
                  <th scope="col" className="num">
                    Draw
                  </th>
                  <th scope="col">Prize</th>
                  <th scope="col">Code or points</th>
                </tr>
              </thead>
              <tbody>
                {spins.data.map((s) => (
                  <tr key={s.id}>
                    <td>{customerLink(s.customer, open)}</td>
                    <td>{minuteOf(s.createdAt)}</td>
                    <td className="num">{count(s.draw)}</td>
                    <td>
                      {s.label} {s.won ? <span className="badge ok">won</span> : null}
                    </td>
                    <td>{s.code ? <code>{s.code}</code> : s.points !== null ? `${count(s.points)} points` : "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}

const UNITS = [
  { value: "month", label: "month(s)" },
  { value: "year", label: "year(s)" },
  { value: "day", label: "day(s)" },
] as const;
type Unit = Plan["period"]["unit"];

export function periodText(p: Plan["period"]): string {
  return p.count === 1 ? `per ${p.unit}` : `every ${p.count} ${p.unit}s`;
}

export function perksText(perks: Plan["perks"]): string {
  const list = [
    ...(perks.freeShipping ? ["free shipping"] : []),
    ...(perks.pointsMultiplier !== 1 ? [`points × ${perks.pointsMultiplier}`] : []),
    ...(perks.earlyAccess ? ["early access"] : []),
    ...perks.other,
  ];
  return list.length === 0 ? "—" : list.join(", ");
}

/** A typed number, left out when empty (the server then uses its default, or says the field is required). */
const typed = (field: string, v: string): Record<string, number> => (v.trim() === "" ? {} : { [field]: Number(v) });

/** Paid membership: the plans, and a form to add one. */
export function Plans() {
  const qc = useQueryClient();
  const plans = useQuery({ queryKey: ["loyalty-plans"], queryFn: () => api<Plan[]>("/api/loyalty/plans") });
  const currency = currentCurrency();
  const [name, setName] = useState("");
  const [price, setPrice] = useState("");
  const [unit, setUnit] = useState<Unit>("month");
  const [periods, setPeriods] = useState("1");
  const [freeShipping, setFreeShipping] = useState(false);
  const [multiplier, setMultiplier] = useState("1");
  const [earlyAccess, setEarlyAccess] = useState(false);
  const add = useMutation({
    mutationFn: (body: unknown) => api<Plan>("/api/loyalty/plans", { method: "POST", body }),
    onSuccess: () => {
      setName("");
      setPrice("");
      setPeriods("1");
      setFreeShipping(false);
      setMultiplier("1");
      setEarlyAccess(false);
      void qc.invalidateQueries({ queryKey: ["loyalty-plans"] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate({
      name,
      ...(price.trim() === "" ? {} : { priceMinor: toMinor(Number(price), currency) }),
      currency,
      period: { unit, ...typed("count", periods) },
      perks: { freeShipping, earlyAccess, ...typed("pointsMultiplier", multiplier) },
    });
  };
  // The fields the server refused, marked on their inputs.
  const refused = new Set(add.error instanceof ApiError ? add.error.issues.map((i) => i.field) : []);
  const invalid = (...fields: string[]) => (fields.some((f) => refused.has(f)) ? true : undefined);
  return (
    <section className="card" data-testid="plans">
      <h2>Paid membership</h2>
      <p className="note">
        Plans members pay for (like Amazon Prime). The shop's billing takes the money and reports each payment to <code>POST /api/loyalty/customers/&#123;id&#125;/membership</code> (then <code>/renewals</code>); a membership
        not renewed lapses at the end of its period.
      </p>
      {plans.isPending ? (
        <Loading what="the plans" />
      ) : plans.isError ? (
        <ErrorBox error={plans.error} retry={() => void plans.refetch()} />
      ) : plans.data.length === 0 ? (
        <p className="note" data-testid="plans-empty">
          No plan yet. Add one below.
        </p>
      ) : (
        <div className="table-scroll">
          <table data-testid="plans-table">
            <thead>
              <tr>
                <th scope="col">Plan</th>
                <th scope="col" className="num">
                  Price
                </th>
                <th scope="col">Period</th>
                <th scope="col">Perks</th>
                <th scope="col">Offered</th>
              </tr>
            </thead>
            <tbody>
              {plans.data.map((p) => (
                <tr key={p.id} data-plan={p.id}>
                  <td>
                    {p.name}
                    <span className="sub">id {p.id}</span>
                  </td>
                  <td className="num">{money(p.priceMinor, { currency: p.currency })}</td>
                  <td>{periodText(p.period)}</td>
                  <td>{perksText(p.perks)}</td>
                  <td>
                    <OfferToggle path={`/api/loyalty/plans/${p.id}`} queryKey="loyalty-plans" active={p.active} testId={`plan-offer-${p.id}`} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h3 className="subhead">Add a plan</h3>
      <form className="form-row" onSubmit={submit} data-testid="plan-form">
        <label>
          Name
          <input aria-label="Plan name" aria-invalid={invalid("name")} value={name} onChange={(e) => setName(e.target.value)} placeholder="Club" />
        </label>
        <label>
          Price ({currency})
          <input aria-label="Plan price" aria-invalid={invalid("priceMinor", "currency")} type="number" min={0} step="0.01" value={price} onChange={(e) => setPrice(e.target.value)} />
        </label>
        <label>
          Every
          <span className="duration">
            <input aria-label="Plan period count" aria-invalid={invalid("period.count")} type="number" min={1} step="1" value={periods} onChange={(e) => setPeriods(e.target.value)} />
            <select aria-label="Plan period unit" aria-invalid={invalid("period.unit")} value={unit} onChange={(e) => setUnit(UNITS.find((u) => u.value === e.target.value)?.value ?? "month")}>
              {UNITS.map((u) => (
                <option key={u.value} value={u.value}>
                  {u.label}
                </option>
              ))}
            </select>
          </span>
        </label>
        <label>
          Points ×
          <input aria-label="Plan points multiplier" aria-invalid={invalid("perks.pointsMultiplier")} type="number" step="0.1" value={multiplier} onChange={(e) => setMultiplier(e.target.value)} />
        </label>
        <label className="check">
          <input type="checkbox" aria-label="Plan free shipping" checked={freeShipping} onChange={(e) => setFreeShipping(e.target.checked)} /> Free shipping
        </label>
        <label className="check">
          <input type="checkbox" aria-label="Plan early access" checked={earlyAccess} onChange={(e) => setEarlyAccess(e.target.checked)} /> Early access
        </label>
        <button type="submit" disabled={add.isPending} data-testid="add-plan">
          {add.isPending ? "Adding…" : "Add"}
        </button>
      </form>
      {add.isError ? (
        <p className="field-error" role="alert" data-testid="plan-error">
          Not added. {add.error.message}
        </p>
      ) : null}
    </section>
  );
}

/** What the shop's developer needs for the widget: the secret (hidden), rotation, the allowed origins, and how to sign and call. */
export function Storefront() {
  const qc = useQueryClient();
  const setup = useQuery({ queryKey: ["loyalty-storefront"], queryFn: () => api<StorefrontSetup>("/api/loyalty/storefront") });
  const [shown, setShown] = useState(false);
  const rotate = useMutation({
    mutationFn: () => api<{ secret: string }>("/api/loyalty/storefront/rotate", { method: "POST" }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["loyalty-storefront"] }),
  });
  const confirmRotate = () => {
    if (window.confirm("Rotate the storefront secret? Every customer token signed with the current secret stops working at once: the widget fails for every shopper until your shop's backend signs with the new secret.")) {
      rotate.mutate();
    }
  };
  const origin = window.location.origin;
  return (
    <section className="card" data-testid="storefront">
      <h2>Storefront widget</h2>
      <p className="note">
        The widget on your shop shows a logged-in customer their points, tier, membership, referral code and the wheel, and lets them redeem and spin, through <code>/api/storefront/me…</code>. Each request carries a token that
        your shop's backend signs for that customer with this secret, so a customer only ever sees their own programme.
      </p>
      {setup.isPending ? (
        <Loading what="the storefront setup" />
      ) : setup.isError ? (
        <ErrorBox error={setup.error} retry={() => void setup.refetch()} />
      ) : (
        <>
          <div className="secret-row">
            <span>Secret</span>
            <code data-testid="storefront-secret" data-shown={shown ? "yes" : "no"}>
              {shown ? setup.data.secret : "•".repeat(24)}
            </code>
            <button type="button" className="secondary" onClick={() => setShown(!shown)} data-testid="show-secret">
              {shown ? "Hide" : "Show"}
            </button>
            <button type="button" className="secondary danger" onClick={confirmRotate} disabled={rotate.isPending} data-testid="rotate-secret">
              {rotate.isPending ? "Rotating…" : "Rotate"}
            </button>
          </div>
          <p className="note">Keep it on your server, never in the page. Rotating it retires every token signed with the old one at once.</p>
          {rotate.isError ? (
            <p className="field-error" role="alert">
              Not rotated. {rotate.error.message}
            </p>
          ) : rotate.isSuccess ? (
            <p role="status" data-testid="rotated">
              Rotated: tokens signed with the old secret no longer work. Give the new one to your shop's backend.
            </p>
          ) : null}
          <h3 className="subhead">Allowed origins</h3>
          {setup.data.allowedOrigins.length === 0 ? (
            <p className="note" data-testid="allowed-origins">
              None: browsers on your shop cannot call the customer API yet (CORS). Add your shop's origin, e.g. <code>https://shop.example</code>, under <code>storefront.allowedOrigins</code> in the programme settings
              below.
            </p>
          ) : (
            <>
              <ul data-testid="allowed-origins">
                {setup.data.allowedOrigins.map((o) => (
                  <li key={o}>
                    <code>{o}</code>
                  </li>
                ))}
              </ul>
              <p className="note">
                Edited under <code>storefront.allowedOrigins</code> in the programme settings below.
              </p>
            </>
          )}
          <h3 className="subhead">The customer token</h3>
          <p className="note">
            A JWT signed {setup.data.token.alg} with the secret:{" "}
            {Object.entries(setup.data.token.claims).map(([claim, meaning], i) => (
              <span key={claim}>
                {i > 0 ? "; " : ""}
                <code>{claim}</code> {meaning}
              </span>
            ))}
            . Your backend makes one for the logged-in customer and hands it to the page, e.g. with <code>jose</code> in Node:
          </p>
          <pre className="code-sample" data-testid="token-sample">
            <code>{tokenSample()}</code>
          </pre>
          <p className="note">The widget then calls the customer API with it:</p>
          <pre className="code-sample" data-testid="widget-sample">
            <code>{widgetSample(origin)}</code>
          </pre>
          <p className="note">
            A backend that would rather not sign can ask Fidelio for a token with the admin key: <code>POST /api/loyalty/storefront/tokens</code> with <code>{`{"customer": "<external id>", "ttlSeconds": 3600}`}</code>.
          </p>
        </>
      )}
    </section>
  );
}

function tokenSample(): string {
  return `// On your shop's backend (Node), for the customer who is logged in.
import { SignJWT } from "jose";

const secret = new TextEncoder().encode(process.env.FIDELIO_STOREFRONT_SECRET);

export async function fidelioToken(customerId) {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(String(customerId)) // sub: the customer's external id in Fidelio
    .setIssuedAt()                  // iat
    .setExpirationTime("1h")        // exp: at most 30 days after iat
    .sign(secret);
}

// Or with jsonwebtoken (it adds iat itself):
// jwt.sign({ sub: String(customerId) }, process.env.FIDELIO_STOREFRONT_SECRET, { algorithm: "HS256", expiresIn: "1h" });`;
}

function widgetSample(origin: string): string {
  return `// In the widget, in the shopper's browser (your shop's origin must be allowed above).
const res = await fetch("${origin}/api/storefront/me", {
  headers: { Authorization: \`Bearer \${token}\` },
});
if (res.status === 401) { /* expired or refused: ask your backend for a new token */ }
const me = await res.json(); // balance, tier (with its message), membership, referral, wheel`;
}

/**
 * Whether a reward or a plan is offered, with the switch (PATCH {active}).
 * Codes already issued and members already in keep theirs.
 */
export function OfferToggle(props: { path: string; queryKey: string; active: boolean; testId: string }) {
  const qc = useQueryClient();
  const offer = useMutation({
    mutationFn: (active: boolean) => api<unknown>(props.path, { method: "PATCH", body: { active } }),
    onSuccess: () => void qc.invalidateQueries({ queryKey: [props.queryKey] }),
  });
  return (
    <>
      {props.active ? "yes" : "no"}{" "}
      <button type="button" className="link" disabled={offer.isPending} onClick={() => offer.mutate(!props.active)} data-testid={props.testId}>
        {props.active ? "Stop offering" : "Offer again"}
      </button>
    </>
  );
}
