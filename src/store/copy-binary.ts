/**
 * Rows in PostgreSQL's binary COPY format (PostgreSQL documentation, "COPY",
 * section "Binary Format"): a signature and two 32-bit words, then per row a
 * 16-bit field count and, per field, a 32-bit length (−1 for null) and the
 * value in the type's binary send format, then −1 as the trailer. Numbers
 * are big-endian.
 *
 * Why: the scoring run writes a million rows of 24 columns. As text, turning
 * each float into its shortest decimal and the server parsing it back cost
 * ~10 µs a row (10.5 s a million, docs/benchmarks.md "Models"); here a float
 * is eight bytes copied. The caller writes the fields in the order of the
 * columns it names, with the exact column types (binary input is strict:
 * int4 for integer, int8 for bigint, and so on).
 */
const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]; // "PGCOPY\n\377\r\n\0"
/** 2000-01-01, PostgreSQL's epoch for dates and timestamps: in days and in ms since 1970. */
const PG_EPOCH_DAY = 10_957;
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 4_294_967_296;

/** A value that would be written wrong (a fraction, out of range, NaN, ±Infinity) is refused, never wrapped or truncated. */
function whole(v: number, max: number, type: string): void {
  if (!Number.isInteger(v) || v > max || v < -max - (type === "bigint" ? 0 : 1)) throw new RangeError(`not ${type === "integer" ? "an" : "a"} ${type}: ${v}`);
}

export class BinaryCopyRows {
  #buf = new Uint8Array(1 << 16);
  #view = new DataView(this.#buf.buffer);
  #at = 0;
  #rows = 0;
  readonly #encoder = new TextEncoder();

  constructor(private readonly fieldsPerRow: number) {
    this.#room(SIGNATURE.length + 8);
    this.#buf.set(SIGNATURE, 0);
    this.#at = SIGNATURE.length;
    this.#view.setInt32(this.#at, 0); // flags: no OIDs
    this.#view.setInt32(this.#at + 4, 0); // header extension length
    this.#at += 8;
  }

  get rows(): number {
    return this.#rows;
  }

  #room(bytes: number): void {
    if (this.#at + bytes <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#at + bytes) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.#buf.subarray(0, this.#at));
    this.#buf = bigger;
    this.#view = new DataView(bigger.buffer);
  }

  /** Starts a row; its fields follow. */
  row(): this {
    this.#room(2);
    this.#view.setInt16(this.#at, this.fieldsPerRow);
    this.#at += 2;
    this.#rows++;
    return this;
  }

  null(): this {
    this.#room(4);
    this.#view.setInt32(this.#at, -1);
    this.#at += 4;
    return this;
  }

  #length(n: number): void {
    this.#room(4 + n);
    this.#view.setInt32(this.#at, n);
    this.#at += 4;
  }

  /** smallint */
  int2(v: number): this {
    whole(v, 32_767, "smallint");
    this.#length(2);
    this.#view.setInt16(this.#at, v);
    this.#at += 2;
    return this;
  }

  /** integer */
  int4(v: number): this {
    whole(v, 2_147_483_647, "integer");
    this.#length(4);
    this.#view.setInt32(this.#at, v);
    this.#at += 4;
    return this;
  }

  /** bigint, from a whole number within ±2^53. */
  int8(v: number): this {
    whole(v, Number.MAX_SAFE_INTEGER, "bigint");
    this.#length(8);
    const high = Math.floor(v / TWO_32);
    this.#view.setInt32(this.#at, high);
    this.#view.setUint32(this.#at + 4, v - high * TWO_32);
    this.#at += 8;
    return this;
  }

  /** double precision */
  float8(v: number): this {
    this.#length(8);
    this.#view.setFloat64(this.#at, v);
    this.#at += 8;
    return this;
  }

  bool(v: boolean): this {
    this.#length(1);
    this.#buf[this.#at] = v ? 1 : 0;
    this.#at += 1;
    return this;
  }

  /** text, as UTF-8 */
  text(v: string): this {
    // At most 3 bytes per UTF-16 unit.
    this.#room(4 + v.length * 3);
    const { written } = this.#encoder.encodeInto(v, this.#buf.subarray(this.#at + 4));
    this.#view.setInt32(this.#at, written);
    this.#at += 4 + written;
    return this;
  }

  /** date, from a day number (days since 1970-01-01). */
  date(dayNumber: number): this {
    return this.int4(dayNumber - PG_EPOCH_DAY);
  }

  /** timestamptz, from an instant (millisecond precision). */
  timestamptz(at: Date): this {
    return this.int8((at.getTime() - PG_EPOCH_MS) * 1000);
  }

  /** The rows so far with the trailer, ready for copyFrom. The writer must not be used afterwards. */
  finish(): Uint8Array<ArrayBuffer> {
    this.#room(2);
    this.#view.setInt16(this.#at, -1);
    this.#at += 2;
    return this.#buf.slice(0, this.#at);
  }
}

/** Bytes of the header (signature, flags, extension length) when it has no extension, as BinaryCopyRows writes it. */
const HEADER_BYTES = SIGNATURE.length + 8;

/**
 * Whole binary COPY payloads (header, rows, trailer each) as one COPY
 * stream: the first header, every part's rows, one trailer. Parts are pulled
 * one at a time, as the stream is read.
 */
export function* joinedBinaryCopy(parts: Iterable<Uint8Array<ArrayBuffer>>): Generator<Uint8Array<ArrayBuffer>> {
  let first = true;
  for (const part of parts) {
    const view = new DataView(part.buffer, part.byteOffset, part.byteLength);
    const framed =
      part.byteLength >= HEADER_BYTES + 2 && SIGNATURE.every((b, i) => part[i] === b) && view.getInt32(HEADER_BYTES - 4) === 0 && view.getInt16(part.byteLength - 2) === -1;
    if (!framed) throw new RangeError("joinedBinaryCopy: a part is not a whole binary COPY payload without header extension (BinaryCopyRows.finish())");
    yield part.subarray(first ? 0 : HEADER_BYTES, part.byteLength - 2);
    first = false;
  }
  if (first) yield new BinaryCopyRows(0).finish();
  else yield Uint8Array.of(0xff, 0xff);
}

/**
 * Reads PostgreSQL's binary COPY output as it arrives, chunk by chunk (a row
 * may span chunks), handing each complete row to `onRow` with a view of its
 * fields. Fields are read by position with the exact type the query gives
 * them (`::int4`, `::int8`, `::float8`, `::bool`).
 */
export class BinaryCopyReader {
  #buf: Uint8Array = new Uint8Array(0);
  #view: DataView = new DataView(this.#buf.buffer);
  #headerRead = false;
  #ended = false;
  readonly #offsets = new Int32Array(64);
  readonly #lengths = new Int32Array(64);
  readonly #row: CopyRow;

  constructor(private readonly onRow: (row: CopyRow) => void) {
    const int8 = (i: number) => int8At(this.#view, this.#offsets[i] ?? 0);
    this.#row = {
      isNull: (i) => (this.#lengths[i] ?? -1) < 0,
      int4: (i) => this.#view.getInt32(this.#offsets[i] ?? 0),
      int8,
      float8: (i) => this.#view.getFloat64(this.#offsets[i] ?? 0),
      timestamptzMicros: (i) => int8(i) + PG_EPOCH_MS * 1000,
      bool: (i) => this.#buf[this.#offsets[i] ?? 0] === 1,
      bytes: (i) => {
        const at = this.#offsets[i] ?? 0;
        return this.#buf.subarray(at, at + Math.max(0, this.#lengths[i] ?? 0));
      },
    };
  }

  push(chunk: Uint8Array): void {
    if (this.#ended) return;
    const data = this.#buf.length === 0 ? chunk : concat(this.#buf, chunk);
    this.#buf = data;
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let at = 0;
    if (!this.#headerRead) {
      if (data.length < SIGNATURE.length + 8) return;
      for (let i = 0; i < SIGNATURE.length; i++) if (data[i] !== SIGNATURE[i]) throw new Error("not PostgreSQL binary COPY data");
      at = SIGNATURE.length + 8 + this.#view.getInt32(SIGNATURE.length + 4);
      // The header extension must have arrived too before the rows start.
      if (at > data.length) return;
      this.#headerRead = true;
    }
    for (;;) {
      if (at + 2 > data.length) break;
      const fields = this.#view.getInt16(at);
      if (fields === -1) {
        this.#ended = true;
        at += 2;
        break;
      }
      if (fields < 0 || fields > this.#offsets.length) throw new Error(`binary COPY rows of ${fields} fields are not supported (at most ${this.#offsets.length})`);
      let p = at + 2;
      let complete = true;
      for (let f = 0; f < fields; f++) {
        if (p + 4 > data.length) {
          complete = false;
          break;
        }
        const len = this.#view.getInt32(p);
        this.#offsets[f] = p + 4;
        this.#lengths[f] = len;
        p += 4 + Math.max(0, len);
        if (p > data.length) {
          complete = false;
          break;
        }
      }
      if (!complete) break;
      this.onRow(this.#row);
      at = p;
    }
    this.#buf = data.subarray(at);
  }

  /** Throws if the data stopped before the trailer. */
  end(): void {
    if (!this.#ended) throw new Error("binary COPY data ended early");
  }
}

/** A row of BinaryCopyReader: field i read as its type. Valid only inside onRow. */
export interface CopyRow {
  isNull(i: number): boolean;
  int4(i: number): number;
  /** bigint as a number (exact within ±2^53). */
  int8(i: number): number;
  float8(i: number): number;
  bool(i: number): boolean;
  /** timestamptz as microseconds since 1970-01-01 UTC (exact for any date before the year 2255). */
  timestamptzMicros(i: number): number;
  /** A bytea's bytes (empty for null): a view into the reader's buffer, to read inside onRow. */
  bytes(i: number): Uint8Array;
}

/** The column types a packed read carries: fixed-width, so that record k starts at k × the record's width. */
export type PackedType = "int4" | "int8" | "float8" | "timestamptz" | "bool";

/** Each packed type's binary send function (what the database packs with) and width in bytes. */
export const PACKED_TYPES: Readonly<Record<PackedType, { send: string; width: number }>> = {
  int4: { send: "int4send", width: 4 },
  int8: { send: "int8send", width: 8 },
  float8: { send: "float8send", width: 8 },
  timestamptz: { send: "timestamptz_send", width: 8 },
  bool: { send: "boolsend", width: 1 },
};

/** A record of readPackedRecords: column i read as its type. Valid only inside onRow. */
export type PackedRow = Omit<CopyRow, "isNull" | "bytes">;

/**
 * Reads `bytes` as records of `types`, each column in its binary send
 * format, back to back (see readPackedPages), and hands each to `onRow`.
 * Returns the number of records; throws if the bytes are not whole records.
 */
export function readPackedRecords(bytes: Uint8Array, types: readonly PackedType[], onRow: (row: PackedRow) => void): number {
  const offsets = new Int32Array(types.length);
  let width = 0;
  types.forEach((t, i) => {
    offsets[i] = width;
    width += PACKED_TYPES[t].width;
  });
  if (width === 0 || bytes.length % width !== 0) throw new Error(`packed records of ${width} bytes cannot fill ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let base = 0;
  const int8 = (i: number) => int8At(view, base + (offsets[i] ?? 0));
  const row: PackedRow = {
    int4: (i) => view.getInt32(base + (offsets[i] ?? 0)),
    int8,
    float8: (i) => view.getFloat64(base + (offsets[i] ?? 0)),
    timestamptzMicros: (i) => int8(i) + PG_EPOCH_MS * 1000,
    bool: (i) => bytes[base + (offsets[i] ?? 0)] === 1,
  };
  const n = bytes.length / width;
  for (let k = 0; k < n; k++, base += width) onRow(row);
  return n;
}

/** The chunks as one buffer (the chunk itself when there is one). */
export function concat(...chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1 && chunks[0] !== undefined) return chunks[0];
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A bigint's eight big-endian bytes at `at`, as a number (exact within ±2^53). */
function int8At(view: DataView, at: number): number {
  return view.getInt32(at) * TWO_32 + view.getUint32(at + 4);
}
