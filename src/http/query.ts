import type { Context } from "hono";
import { AppError } from "../shared/index.ts";
import type { Env } from "./auth.ts";

/**
 * The query string as one value per name; a name given twice is refused
 * (naming it) rather than silently reading one of the values. `many` names
 * the parameters that may repeat; they come back as arrays.
 */
export function queryOf(c: Context<Env>, many: string[] = []): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, values] of Object.entries(c.req.queries())) {
    if (many.includes(name)) out[name] = values;
    else if (values.length > 1) throw new AppError("invalid_input", `${name}: given ${values.length} times; give it once`, [{ field: name, message: "given more than once" }]);
    else out[name] = values[0] ?? "";
  }
  return out;
}

