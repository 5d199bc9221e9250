/**
 * The timed part of workload 4 in a process of its own: opens the store the
 * benchmark wrote the shop to (`{"dataDir": …}` or `{"databaseUrl": …}` as
 * the one argument), runs what `fidelio models fit` does, and prints its
 * measurements as one JSON line. A process of its own so that the peak
 * memory is the pipeline's, as it would be in `fidelio models fit`, and not
 * the benchmark's (which holds the simulated shop).
 */
import { z } from "zod";
import { openStore } from "../src/store/index.ts";
import { runModelsPipeline } from "./models-bench.ts";

const { databaseUrl, dataDir } = z.object({ databaseUrl: z.string().optional(), dataDir: z.string().optional() }).parse(JSON.parse(process.argv[2] ?? "{}"));
const store = await openStore(databaseUrl ? { databaseUrl } : dataDir ? { dataDir } : {});
try {
  console.log(JSON.stringify(await runModelsPipeline(store)));
} finally {
  await store.close();
}
