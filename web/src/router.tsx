/** Paths of the dashboard, kept in the address bar so a page can be bookmarked and refreshed. */
import { useEffect, useState, type MouseEvent, type ReactNode } from "react";

export const PAGES = [
  { path: "/", title: "Overview" },
  { path: "/cohorts", title: "Cohorts" },
  { path: "/ladder", title: "Repeat ladder" },
  { path: "/channels", title: "Channels" },
  { path: "/refunds", title: "Refunds" },
  { path: "/catalogue", title: "Catalogue" },
  { path: "/advice", title: "Advice" },
  { path: "/customers", title: "Customers" },
  { path: "/segments", title: "Segments" },
  { path: "/journeys", title: "Journeys" },
  { path: "/loyalty", title: "Loyalty" },
  { path: "/models", title: "Models" },
  { path: "/settings", title: "Settings" },
] as const;

export function usePath(): [string, (to: string) => void] {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const onPop = () => setPath(window.location.pathname);
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const go = (to: string) => {
    if (to !== window.location.pathname) window.history.pushState(null, "", to);
    setPath(to);
    window.scrollTo(0, 0);
  };
  return [path, go];
}

export function Link(props: { to: string; go: (to: string) => void; current: boolean; children: ReactNode }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    props.go(props.to);
  };
  return (
    <a href={props.to} onClick={onClick} aria-current={props.current ? "page" : undefined}>
      {props.children}
    </a>
  );
}
