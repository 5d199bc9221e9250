/**
 * The public, signed links in messages: unsubscribe (the footer link and the
 * RFC 8058 one-click POST from the List-Unsubscribe header), the open pixel
 * and click redirects. No key: the token's signature is the authority. A bad
 * token is a 404 page; tracking never fails a customer (an unknown pixel
 * still gets its image).
 */
import { Hono } from "hono";
import type { Store } from "../../store/index.ts";
import { AppError, escapeHtml, type Clock } from "../../shared/index.ts";
import { recordClick, recordOpen, setEmailConsentByLink } from "../../messaging/index.ts";

const PIXEL = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");


function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#18181b}button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid #a1a1aa;background:#fff;cursor:pointer}</style></head>
<body>${body}</body></html>`;
}

export function linkRoutes(store: Store, clock: Clock): Hono {
  const app = new Hono();
  /** The footer link: unsubscribes at once (one click), with a way back. */
  app.get("/u/:token", async (c) => {
    const token = c.req.param("token");
    try {
      const r = await setEmailConsentByLink(store, token, false, clock.now());
      return c.html(
        page(
          "Unsubscribed",
          `<h1>You are unsubscribed</h1><p>${r.email ? `${escapeHtml(r.email)} will` : "You will"} get no more marketing email from us.</p>
<form method="post" action="/u/${escapeHtml(token)}"><input type="hidden" name="action" value="resubscribe"><button type="submit">I clicked by mistake: keep me subscribed</button></form>`,
        ),
      );
    } catch (err) {
      if (err instanceof AppError && err.code === "not_found") return c.html(page("Link not valid", "<h1>This link is not valid</h1><p>It may have been copied incompletely.</p>"), 404);
      throw err;
    }
  });
  /** RFC 8058 one-click (body `List-Unsubscribe=One-Click`), or the page's resubscribe button. */
  app.post("/u/:token", async (c) => {
    const token = c.req.param("token");
    const form = await c.req.parseBody().catch(() => ({}));
    const resubscribe = Object.getOwnPropertyDescriptor(form, "action")?.value === "resubscribe";
    try {
      const r = await setEmailConsentByLink(store, token, resubscribe, clock.now());
      if (resubscribe) return c.html(page("Subscribed", `<h1>You are subscribed again</h1><p>Thank you${r.email ? `, ${escapeHtml(r.email)}` : ""}.</p>`));
      return c.json({ unsubscribed: true });
    } catch (err) {
      if (err instanceof AppError && err.code === "not_found") return c.json({ error: { code: "not_found", message: "this link is not valid" } }, 404);
      throw err;
    }
  });
  app.get("/t/o/:token", async (c) => {
    await recordOpen(store, c.req.param("token").replace(/\.gif$/, ""), clock.now()).catch(() => undefined);
    return c.body(PIXEL, 200, { "Content-Type": "image/gif", "Cache-Control": "no-store, max-age=0" });
  });
  app.get("/t/c/:token", async (c) => {
    try {
      return c.redirect(await recordClick(store, c.req.param("token"), clock.now()), 302);
    } catch (err) {
      if (err instanceof AppError && err.code === "not_found") return c.html(page("Link not valid", "<h1>This link is not valid</h1>"), 404);
      throw err;
    }
  });
  return app;
}
