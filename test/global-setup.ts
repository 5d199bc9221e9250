/**
 * Every temporary file of a test run goes under one folder, removed when the
 * run ends. Tests (and the CLI processes and browsers they start) make their
 * data folders with os.tmpdir(), which reads TMPDIR; test workers are started
 * after this, with this environment. Before, each run left about twenty data
 * folders behind in /tmp, some of 137 MB.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "fidelio-tests-"));
  process.env.TMPDIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
