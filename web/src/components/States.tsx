import type { ReactNode } from "react";

export function Loading({ what }: { what: string }) {
  return (
    <div className="state loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </div>
  );
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  const message = error instanceof Error ? error.message : "Something went wrong.";
  return (
    <div className="state error" role="alert">
      <strong>Could not load this.</strong> {message}
      {retry ? (
        <button type="button" className="secondary" onClick={retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

/** Shown when the shop has no orders in the period: how to get data in. */
export function NoData({ children }: { children?: ReactNode }) {
  return (
    <div className="state empty" data-testid="empty-state">
      <strong>No orders here yet.</strong> {children ?? "Pick a longer period, or bring your data in:"}
      <ul>
        <li>
          import a file: <code>npx fidelio import orders.csv --format orders-csv</code> (also Shopify exports, UCI Online Retail, CDNOW)
        </li>
        <li>
          send events from your shop with any Segment library to <code>/v1/track</code> (an <code>Order Completed</code> event is an order)
        </li>
        <li>
          post orders to <code>/api/orders</code>, or point Shopify's order webhook at <code>/webhooks/shopify/orders</code>
        </li>
      </ul>
    </div>
  );
}
