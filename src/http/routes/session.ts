/** Dashboard sign-in under /api/session: POST signs in, GET says who is signed in, DELETE signs out. */
import { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Store } from "../../store/index.ts";
import { AppError, parseInput, type Clock } from "../../shared/index.ts";
import { AdminLogin, sessionOwner, signIn, signOut } from "../../admins/index.ts";
import { SESSION_COOKIE, sameToken } from "../auth.ts";

/** The host of an Origin header; `null` (sandboxed frames, data: URLs) and garbage count as another site. */
function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}
import { jsonBody } from "../errors.ts";

export function sessionRoutes(store: Store, clock: Clock): Hono {
  const app = new Hono();

  app.post("/", async (c) => {
    // Login CSRF: a sign-in posted from another site's page is refused.
    const origin = c.req.header("origin");
    if (origin !== undefined && hostOf(origin) !== new URL(c.req.url).host) {
      throw new AppError("forbidden", "Origin: sign-in from another site is refused", [{ field: "Origin", message: "another site" }]);
    }
    const session = await signIn(store, parseInput(AdminLogin, await jsonBody(c)), clock.now());
    setCookie(c, SESSION_COOKIE, session.token, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
      secure: new URL(c.req.url).protocol === "https:",
      // Max-Age, not Expires: the browser counts from its own clock, the server checks expiry with its own.
      maxAge: Math.max(0, Math.floor((session.expiresAt.getTime() - clock.now().getTime()) / 1000)),
    });
    return c.json({ email: session.email, csrfToken: session.csrfToken, expiresAt: session.expiresAt.toISOString() });
  });

  app.get("/", async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (!token) throw new AppError("unauthorized", "not signed in");
    const s = await sessionOwner(store, token, clock.now());
    return c.json({ email: s.email, csrfToken: s.csrfToken, currency: s.workspace.currency });
  });

  app.delete("/", async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (token) {
      const s = await sessionOwner(store, token, clock.now()).catch(() => undefined);
      if (s && !sameToken(c.req.header("x-csrf-token"), s.csrfToken)) {
        throw new AppError("forbidden", "X-CSRF-Token: missing or wrong for this session", [{ field: "X-CSRF-Token", message: "missing or wrong" }]);
      }
      await signOut(store, token);
    }
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    return c.json({ signedOut: true });
  });
  return app;
}
