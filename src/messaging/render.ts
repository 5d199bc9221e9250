/**
 * Email rendering: Liquid for the personal parts, MJML for responsive HTML,
 * a plain-text part, then tracking (UTM-tagged click redirects, an open
 * pixel) and the unsubscribe link.
 *
 * MJML is compiled once per template (about 10 ms) with the Liquid left in
 * place, and Liquid runs per message on the compiled HTML (well under a
 * millisecond), so sending costs no MJML compile per message. Liquid is
 * therefore read inside text, attributes and `<mj-raw>`; a loop over MJML
 * components must sit in an `<mj-raw>` (MJML drops text between
 * components). HTML output is escaped: a customer called `<b>` stays text.
 */
import mjml2html from "mjml";
import { Liquid } from "liquidjs";
import { convert } from "html-to-text";
import { AppError, formatMoney } from "../shared/index.ts";

export interface EmailTemplate {
  subject: string;
  preview?: string | undefined;
  body: string;
  text?: string | undefined;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

function engine(escape: boolean): Liquid {
  const liquid = new Liquid({ strictFilters: true, ownPropertyOnly: true, ...(escape ? { outputEscape: "escape" as const } : {}) });
  // {{ order.total_minor | money: order.currency }} → "€42.00"
  liquid.registerFilter("money", (minor: unknown, currency: unknown) =>
    typeof minor === "number" && typeof currency === "string" ? formatMoney(Math.round(minor), currency) : "",
  );
  return liquid;
}
const htmlLiquid = engine(true);
const textLiquid = engine(false);

/** The house layout around MJML sections that are not a whole document. */
function wrap(t: EmailTemplate): string {
  if (/^\s*<mjml[\s>]/.test(t.body)) return t.body;
  return `<mjml>
  <mj-head>
    <mj-attributes><mj-all font-family="Helvetica, Arial, sans-serif" /><mj-text font-size="15px" line-height="1.5" color="#222222" /></mj-attributes>
    ${t.preview ? `<mj-preview>${t.preview}</mj-preview>` : ""}
  </mj-head>
  <mj-body background-color="#f4f4f5">
    <mj-wrapper padding="24px 0" background-color="#ffffff">
      ${t.body}
    </mj-wrapper>
    <mj-section><mj-column><mj-text font-size="12px" color="#71717a" align="center">
      {{ shop.name }} · <a href="{{ unsubscribe_url }}" style="color:#71717a">Unsubscribe</a>
    </mj-text></mj-column></mj-section>
  </mj-body>
</mjml>`;
}

interface Compiled {
  subject: ReturnType<Liquid["parse"]>;
  html: ReturnType<Liquid["parse"]>;
  text: ReturnType<Liquid["parse"]>;
}

const compiled = new Map<string, Compiled>();
const MAX_CACHED = 200;

/** Compiles a template (MJML once, Liquid parse); a template error names the part that is wrong. */
export async function compileTemplate(t: EmailTemplate): Promise<Compiled> {
  const cacheKey = JSON.stringify([t.subject, t.preview ?? "", t.body, t.text ?? ""]);
  const hit = compiled.get(cacheKey);
  if (hit) return hit;
  const parse = (liquid: Liquid, source: string, field: string) => {
    try {
      return liquid.parse(source);
    } catch (err) {
      throw new AppError("invalid_input", `${field}: ${err instanceof Error ? err.message : String(err)}`, [{ field, message: "is not valid Liquid" }]);
    }
  };
  const result = await mjml2html(wrap(t), { validationLevel: "soft", keepComments: false });
  const fatal = result.errors.find((e) => !/attribute .* has invalid value|Attribute .* is illegal/i.test(e.message));
  if (fatal && !result.html) throw new AppError("invalid_input", `body: ${fatal.formattedMessage}`, [{ field: "body", message: fatal.message }]);
  const html = result.html;
  const text = t.text ?? convert(html, { wordwrap: 78, selectors: [{ selector: "img", format: "skip" }], preserveNewlines: false });
  const c: Compiled = {
    subject: parse(textLiquid, t.subject, "subject"),
    html: parse(htmlLiquid, html, "body"),
    text: parse(textLiquid, text, t.text === undefined ? "body" : "text"),
  };
  if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value ?? "");
  compiled.set(cacheKey, c);
  return c;
}

export interface Tracking {
  /** A click redirect for a destination (already UTM-tagged). */
  click: (url: string) => string;
  /** The open pixel's address. */
  pixel: string;
  utm: Record<string, string>;
  /** Links that are never wrapped (the unsubscribe link). */
  keep: readonly string[];
}

/** Adds UTM parameters the link does not already carry. */
export function withUtm(url: string, utm: Record<string, string>): string {
  try {
    const u = new URL(url);
    for (const [k, v] of Object.entries(utm)) if (!u.searchParams.has(k)) u.searchParams.set(k, v);
    return u.toString();
  } catch {
    return url;
  }
}

const unescapeAttr = (s: string) => s.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">");
const escapeAttr = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;");

/** Renders a compiled template for one customer; with `tracking`, links are wrapped and the pixel added. */
export async function renderEmail(t: EmailTemplate, context: Record<string, unknown>, tracking?: Tracking): Promise<RenderedEmail> {
  const c = await compileTemplate(t);
  const render = async (liquid: Liquid, tpl: Compiled["html"], field: string) => {
    try {
      return String(await liquid.render(tpl, context));
    } catch (err) {
      throw new AppError("unprocessable", `${field}: ${err instanceof Error ? err.message : String(err)}`, [{ field, message: "could not be rendered" }]);
    }
  };
  const subject = (await render(textLiquid, c.subject, "subject")).replace(/\s+/g, " ").trim();
  let html = await render(htmlLiquid, c.html, "body");
  let text = await render(textLiquid, c.text, "text");
  if (tracking) {
    html = html.replace(/href="(https?:\/\/[^"]+)"/g, (_, raw: string) => {
      const url = unescapeAttr(raw);
      if (tracking.keep.includes(url)) return `href="${escapeAttr(url)}"`;
      return `href="${escapeAttr(tracking.click(withUtm(url, tracking.utm)))}"`;
    });
    html = html.replace(/<\/body>/i, `<img src="${escapeAttr(tracking.pixel)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" /></body>`);
    text = text.replace(/https?:\/\/[^\s\]]+/g, (url) => (tracking.keep.includes(url) ? url : withUtm(url, tracking.utm)));
  }
  return { subject, html, text };
}

const subjects = new Map<string, ReturnType<Liquid["parse"]>>();

/** A subject line for one customer (reports list what would have been sent without rendering the whole email). */
export async function renderSubject(subject: string, context: Record<string, unknown>): Promise<string> {
  let tpl = subjects.get(subject);
  if (!tpl) {
    tpl = textLiquid.parse(subject);
    if (subjects.size >= MAX_CACHED) subjects.delete(subjects.keys().next().value ?? "");
    subjects.set(subject, tpl);
  }
  return String(await textLiquid.render(tpl, context)).replace(/\s+/g, " ").trim();
}
