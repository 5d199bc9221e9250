import type { Context, Env as HonoEnv } from "hono";
import { AppError, invalidField } from "../shared/index.ts";

/**
 * The query string as one value per name; a name given twice is refused
 * (naming it) rather than silently reading one of the values. `many` names
 * the parameters that may repeat; they come back as arrays.
 */
export function queryOf<E extends HonoEnv>(c: Context<E>, many: string[] = []): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, values] of Object.entries(c.req.queries())) {
    if (many.includes(name)) out[name] = values;
    else if (values.length > 1) throw new AppError("invalid_input", `${name}: given ${values.length} times; give it once`, [{ field: name, message: "given more than once" }]);
    else out[name] = values[0] ?? "";
  }
  return out;
}


/** A numeric id from the path (`/:id`), refused with 400 naming `id` when it is not a positive whole number. */
export function pathId(raw: string): number {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id < 1) throw invalidField("id", "must be a positive whole number");
  return id;
}
