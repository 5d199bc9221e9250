/** Dashboard sign-in under /api/session: POST signs in, GET says who is signed in, DELETE signs out. */
import { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Store } from "../../store/index.ts";
import { AppError, parseInput, type Clock } from "../../shared/index.ts";
import { AdminLogin, SignInLimiter, sessionOwner, signIn, signOut } from "../../admins/index.ts";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";
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

/** The client's address, for the sign-in limits (absent when the app runs outside the Node server). */
function addressOf(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}

/**
 * `publicUrl` (FIDELIO_PUBLIC_URL) is the address people use, when it is not
 * the one the server sees (behind a TLS-terminating proxy): sign-in's Origin
 * check compares with its host, and the cookie is Secure when it is https.
 */
export function sessionRoutes(store: Store, clock: Clock, publicUrl?: string, limiter = new SignInLimiter()): Hono {
  const app = new Hono();
  const publicOf = (c: Context) => new URL(publicUrl ?? c.req.url);

  app.post("/", async (c) => {
    // Login CSRF: a sign-in posted from another site's page is refused.
    const origin = c.req.header("origin");
    if (origin !== undefined && hostOf(origin) !== publicOf(c).host) {
      throw new AppError("forbidden", "Origin: sign-in from another site is refused", [{ field: "Origin", message: "another site" }]);
    }
    const session = await signIn(store, parseInput(AdminLogin, await jsonBody(c)), clock.now(), { limiter, address: addressOf(c) });
    setCookie(c, SESSION_COOKIE, session.token, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
      secure: publicOf(c).protocol === "https:",
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
