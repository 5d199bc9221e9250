/**
 * Products known to be in a workspace's catalogue, remembered by a writer
 * that keeps going (the server's tracking API, one import), so that a batch
 * naming them does not note them again. Noting a product is "enter the
 * catalogue unless it is there" (noteProducts: ON CONFLICT DO NOTHING), and
 * products are never deleted, so one that a committed transaction noted
 * stays noted: asking again is a statement that finds nothing new — on
 * PGlite 1.5 s of 100,000 tracked events, 1.2 s of a million-line import.
 * Add ids only after the transaction that noted them has committed.
 */
const NOTHING: ReadonlySet<string> = new Set();

export class KnownProducts {
  readonly #byWorkspace = new Map<string, Set<string>>();

  /** `limit`: ids kept per workspace; past it the memory starts afresh (a catalogue that large is noted again, once). */
  constructor(private readonly limit = 100_000) {}

  of(workspaceId: string): ReadonlySet<string> {
    return this.#byWorkspace.get(workspaceId) ?? NOTHING;
  }

  add(workspaceId: string, ids: Iterable<string>): void {
    let known = this.#byWorkspace.get(workspaceId);
    if (!known) this.#byWorkspace.set(workspaceId, (known = new Set()));
    for (const id of ids) {
      if (known.size >= this.limit) known.clear();
      known.add(id);
    }
  }
}
