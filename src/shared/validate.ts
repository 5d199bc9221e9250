import { z } from "zod";
import { AppError, type FieldIssue } from "./errors.ts";

// One wording for a missing field everywhere: "is required" (zod's default names types instead).
z.config({
  customError: (iss) => (iss.code === "invalid_type" && iss.input === undefined ? "is required" : undefined),
});

/** Whether `v` is a JSON object (not null, not an array). */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A JSON object whose keys and values are free (Segment's properties,
 * context, traits), taken as it is. z.record(z.string(), z.unknown()) says
 * the same but checks and copies every key: in the tracking path, a third of
 * validation time for no stricter result (JSON keys are always strings).
 */
export const JsonObject = z.custom<Record<string, unknown>>(isJsonObject, { message: "expected a JSON object" });

/** Turns zod issues into field issues whose `field` is the dotted path, prefixed. */
export function issuesOf(error: z.ZodError, prefix = ""): FieldIssue[] {
  return error.issues.flatMap((i) => {
    const at = (extra: string[]) => [prefix, ...i.path.map(String), ...extra].filter((p) => p !== "").join(".") || "(body)";
    // A field we do not know is named itself, not its parent object.
    if (i.code === "unrecognized_keys") return i.keys.map((k) => ({ field: at([k]), message: "is not a known field" }));
    return [{ field: at([]), message: i.message }];
  });
}

/**
 * Parses `input` with `schema` or throws an `invalid_input` AppError naming
 * each bad field. Text holding a NUL character is refused first, by path
 * (see `nulCharacterPath`), unless `allowNul`: a caller that checks the
 * parts of its input one by one (the tracking batch) does so itself.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, prefix = "", options: { allowNul?: boolean } = {}): z.output<S> {
  if (!options.allowNul && hasNulCharacter(input)) {
    const path = nulCharacterPath(input) ?? "(body)";
    const field = prefix && path !== "(body)" ? `${prefix}.${path}` : prefix || path;
    throw new AppError("invalid_input", `${field}: ${NUL_CHARACTER_MESSAGE}`, [{ field, message: NUL_CHARACTER_MESSAGE }]);
  }
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issues = issuesOf(r.error, prefix);
  const first = issues[0];
  throw new AppError("invalid_input", first ? `${first.field}: ${first.message}` : "invalid input", issues);
}

export const NUL_CHARACTER_MESSAGE = "contains a NUL character (\\u0000), which cannot be stored";

/** Whether any key or string value in `value` holds a NUL character (fast: no paths built). */
function hasNulCharacter(value: unknown): boolean {
  if (typeof value === "string") return value.indexOf("\u0000") !== -1;
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) {
    for (const v of value) if (hasNulCharacter(v)) return true;
    return false;
  }
  for (const k in value) {
    if (k.indexOf("\u0000") !== -1 || hasNulCharacter(Reflect.get(value, k))) return true;
  }
  return false;
}

/**
 * The dotted path of the first key or string value in `value` that holds a
 * NUL character (U+0000), or undefined. PostgreSQL stores neither text nor
 * jsonb with one ("unsupported Unicode escape sequence"), so such input is
 * refused by name before it reaches a statement and takes the others down
 * with it.
 */
export function nulCharacterPath(value: unknown, path = ""): string | undefined {
  const at = (k: string | number) => (path === "" ? String(k) : `${path}.${k}`);
  if (typeof value === "string") return value.includes("\u0000") ? path || "(body)" : undefined;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const found = nulCharacterPath(v, at(i));
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes("\u0000")) return at(k);
      const found = nulCharacterPath(v, at(k));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
