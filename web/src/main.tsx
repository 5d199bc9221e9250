import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { api, ApiError, setCsrfToken } from "./api.ts";
import { setCurrency } from "./format.ts";
import { Link, PAGES, usePath } from "./router.tsx";
import { PeriodPicker, presets, type PeriodChoice } from "./components/PeriodPicker.tsx";
import { ErrorBox, Loading } from "./components/States.tsx";
import { Login, type Session } from "./pages/Login.tsx";
import { Overview } from "./pages/Overview.tsx";
import { Cohorts } from "./pages/Cohorts.tsx";
import { Ladder } from "./pages/Ladder.tsx";
import { Channels } from "./pages/Channels.tsx";
import { Refunds } from "./pages/Refunds.tsx";
import { Catalogue } from "./pages/Catalogue.tsx";
import { Advice } from "./pages/Advice.tsx";
import { Customers } from "./pages/Customers.tsx";
import { Customer } from "./pages/Customer.tsx";
import { Models } from "./pages/Models.tsx";
import { Segments } from "./pages/Segments.tsx";
import { Segment } from "./pages/Segment.tsx";
import { Journeys } from "./pages/Journeys.tsx";
import { Journey } from "./pages/Journey.tsx";
import { Loyalty } from "./pages/Loyalty.tsx";
import { Settings } from "./pages/Settings.tsx";
import "./styles.css";

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 60_000,
      refetchOnWindowFocus: false,
      // A 4xx will not get better by asking again.
      retry: (n, err) => !(err instanceof ApiError && err.status >= 400 && err.status < 500) && n < 2,
    },
  },
});

/** Pages that depend on the chosen period show the picker. */
const WITH_PERIOD = new Set(["/", "/cohorts", "/refunds", "/catalogue"]);

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [failure, setFailure] = useState<unknown>();
  const [path, go] = usePath();
  const [period, setPeriod] = useState<PeriodChoice>(presets().find((p) => p.label === "Last 12 months") ?? { label: "All time" });

  const adopt = (s: Session) => {
    setCsrfToken(s.csrfToken);
    if (s.currency) setCurrency(s.currency);
    setSession(s);
  };
  useEffect(() => {
    api<Session>("/api/session")
      .then(adopt)
      .catch((err: unknown) => (err instanceof ApiError && err.status === 401 ? setSession(null) : setFailure(err)));
  }, []);
  // A request that finds the session gone sends the person back to sign in.
  useEffect(() => {
    return queryClient.getQueryCache().subscribe((e) => {
      if (e.type === "updated" && e.action.type === "error" && e.action.error instanceof ApiError && e.action.error.status === 401) setSession(null);
    });
  }, []);

  if (failure) return <main className="page"><ErrorBox error={failure} retry={() => window.location.reload()} /></main>;
  if (session === undefined) return <main className="page"><Loading what="Fidelio" /></main>;
  if (session === null) return <Login onSignedIn={adopt} />;

  const customerId = path.startsWith("/customers/") ? decodeURIComponent(path.slice("/customers/".length)) : null;
  const segmentPath = path.startsWith("/segments/") ? path.slice("/segments/".length) : null;
  const segmentId = segmentPath === "new" ? "new" : segmentPath !== null && /^\d+$/.test(segmentPath) ? Number(segmentPath) : null;
  const journeyPath = path.startsWith("/journeys/") ? path.slice("/journeys/".length) : null;
  const journeyId = journeyPath !== null && /^\d+$/.test(journeyPath) ? Number(journeyPath) : null;
  const page =
    customerId !== null ? { path, title: "Customer" }
    : segmentId !== null ? { path, title: segmentId === "new" ? "New segment" : "Segment" }
    : journeyId !== null ? { path, title: "Journey" }
    : PAGES.find((p) => p.path === path);
  const signOut = async () => {
    await api("/api/session", { method: "DELETE" }).catch(() => undefined);
    queryClient.clear();
    setSession(null);
  };
  return (
    <>
      <header className="top">
        <a className="brand" href="/" onClick={(e) => { e.preventDefault(); go("/"); }}>
          <span className="logo" aria-hidden="true" /> Fidelio
        </a>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <Link key={p.path} to={p.path} go={go} current={p.path === path || (p.path === "/customers" && customerId !== null) || (p.path === "/segments" && segmentId !== null) || (p.path === "/journeys" && journeyId !== null)}>
              {p.title}
            </Link>
          ))}
        </nav>
        <div className="who">
          <span title="Signed in as">{session.email}</span>
          <button type="button" className="secondary" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main className="page">
        <div className="page-head">
          <h1>{page?.title ?? "Not found"}</h1>
          {WITH_PERIOD.has(path) ? <PeriodPicker value={period} onChange={setPeriod} /> : null}
        </div>
        {path === "/" ? <Overview period={period} />
          : path === "/cohorts" ? <Cohorts period={period} />
          : path === "/ladder" ? <Ladder />
          : path === "/channels" ? <Channels />
          : path === "/refunds" ? <Refunds period={period} />
          : path === "/catalogue" ? <Catalogue period={period} />
          : path === "/advice" ? <Advice />
          : path === "/customers" ? <Customers open={(id) => go(`/customers/${encodeURIComponent(id)}`)} />
          : customerId !== null ? <Customer key={customerId} externalId={customerId} back={() => go("/customers")} />
          : path === "/models" ? <Models />
          : path === "/segments" ? <Segments open={(id) => go(`/segments/${id}`)} />
          : segmentId !== null ? <Segment key={segmentId} id={segmentId} open={(id) => go(`/segments/${id}`)} back={() => go("/segments")} />
          : path === "/journeys" ? <Journeys open={(id) => go(`/journeys/${id}`)} />
          : journeyId !== null ? <Journey key={journeyId} id={journeyId} back={() => go("/journeys")} />
          : path === "/loyalty" ? <Loyalty open={(id) => go(`/customers/${encodeURIComponent(id)}`)} />
          : path === "/settings" ? <Settings />
          : <p>There is no page here. <a href="/" onClick={(e) => { e.preventDefault(); go("/"); }}>Go to the overview</a>.</p>}
      </main>
    </>
  );
}

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <QueryClientProvider client={queryClient}>
        <App />
      </QueryClientProvider>
    </StrictMode>,
  );
}
