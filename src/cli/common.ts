/** What the CLI's commands share: options, opening the store, reading JSON files. */
import { InvalidArgumentError } from "commander";
import { readFile } from "node:fs/promises";
import { readConfig, type ConfigOverrides } from "../config.ts";
import { openFidelio, type Fidelio } from "../main.ts";
import { AppError } from "../shared/index.ts";

export const int = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a whole number`);
  return Number(v);
};

export function overrides(o: { dataDir?: string; port?: number; host?: string }): ConfigOverrides {
  return { dataDir: o.dataDir, port: o.port, host: o.host };
}

export async function withFidelio<T>(o: { dataDir?: string }, fn: (f: Fidelio) => Promise<T>): Promise<T> {
  const f = await openFidelio(readConfig(overrides(o)));
  try {
    return await fn(f);
  } finally {
    await f.store.close();
  }
}

export const dataDirOption = ["--data-dir <dir>", "folder of the embedded database (default ./.fidelio, or FIDELIO_DATA_DIR)"] as const;

/** Reads a JSON file (a segment, a rule, a journey, a definition); errors name --file. */
export async function readJsonFile(file: string): Promise<unknown> {
  const text = await readFile(file, "utf8").catch((err: unknown) => {
    throw new AppError("invalid_input", `--file: cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`, [{ field: "--file", message: "cannot be read" }]);
  });
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AppError("invalid_input", `--file: ${file} is not JSON: ${err instanceof Error ? err.message : String(err)}`, [{ field: "--file", message: "is not JSON" }]);
  }
}
