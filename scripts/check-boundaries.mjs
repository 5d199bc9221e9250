#!/usr/bin/env node
// Part of `npm test`: keeps the module rules that the compiler cannot.
//  1. A module (a folder under src/) is entered only through its index.ts:
//     code outside src/<m>/ may import src/<m>/index.ts, nothing else in it.
//  2. Only src/config.ts reads process.env.
//  3. Only src/store/ imports the database drivers (pg, @electric-sql/pglite).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const src = join(root, "src");
const problems = [];

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const moduleOf = (file) => {
  const rel = relative(src, file).split(sep);
  return rel.length > 1 ? rel[0] : undefined;
};

for (const file of walk(src)) {
  const text = readFileSync(file, "utf8");
  const rel = relative(root, file);
  const isTest = file.endsWith(".test.ts");
  for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) {
    const spec = m[1] ?? m[2];
    if (!spec) continue;
    if (spec.startsWith(".")) {
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(src)) continue; // test helpers, data
      const from = moduleOf(file);
      const to = moduleOf(target);
      if (to && to !== from && relative(join(src, to), target) !== "index.ts") {
        problems.push(`${rel}: imports ${spec}, inside module "${to}"; import "${to}/index.ts" instead`);
      }
    } else if ((spec === "pg" || spec.startsWith("@electric-sql/pglite")) && moduleOf(file) !== "store" && !isTest) {
      problems.push(`${rel}: imports the driver "${spec}"; only src/store/ may`);
    }
  }
  if (!isTest && rel !== join("src", "config.ts") && /process\.env\b/.test(text)) {
    problems.push(`${rel}: reads process.env; read configuration in src/config.ts and pass it in`);
  }
}

if (problems.length > 0) {
  console.error(`Module boundaries: ${problems.length} problem(s)\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log("Module boundaries: ok");
