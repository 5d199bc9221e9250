/**
 * Local time in a customer's time zone, where a person sees time (quiet
 * hours, "wait until 10:00", birthdays). Everything else stays in UTC.
 * Built on Intl only; an unknown zone falls back to UTC.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        weekday: "short",
      });
    } catch {
      f = formatter("UTC");
    }
    formatters.set(zone, f);
  }
  return f;
}

export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday. */
  weekday: number;
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** The wall-clock time in `zone` at `at`. */
export function localTime(at: Date, zone: string | null | undefined): LocalTime {
  const parts = formatter(zone ?? "UTC").formatToParts(at);
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "0";
  return {
    year: Number(get("year")),
    month: Number(get("month")),
    day: Number(get("day")),
    hour: Number(get("hour")),
    minute: Number(get("minute")),
    second: Number(get("second")),
    weekday: Math.max(0, WEEKDAYS.indexOf(get("weekday"))),
  };
}

/** The instant at which the wall clock in `zone` shows this date and time (the later one when a DST change repeats it, the shifted one when it skips it). */
export function fromLocal(zone: string | null | undefined, year: number, month: number, day: number, hour: number, minute: number): Date {
  const wanted = Date.UTC(year, month - 1, day, hour, minute);
  let guess = wanted;
  // Two corrections settle on the zone's offset at that instant.
  for (let i = 0; i < 2; i += 1) {
    const l = localTime(new Date(guess), zone);
    const shown = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second);
    guess += wanted - shown;
  }
  return new Date(guess);
}

/** Minutes since local midnight from "HH:MM". */
export function minutesOfDay(hhmm: string): number {
  const [h, m] = hhmm.split(":");
  return Number(h) * 60 + Number(m);
}

/**
 * The first instant at or after `from` when the local clock in `zone` shows
 * `hhmm`, on one of `weekdays` (0 = Sunday; any day when absent).
 */
export function nextLocalTime(from: Date, zone: string | null | undefined, hhmm: string, weekdays?: readonly number[]): Date {
  const start = localTime(from, zone);
  const target = minutesOfDay(hhmm);
  for (let add = 0; add <= 8; add += 1) {
    const day = new Date(Date.UTC(start.year, start.month - 1, start.day + add));
    if (weekdays && !weekdays.includes(day.getUTCDay())) continue;
    const at = fromLocal(zone, day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), Math.floor(target / 60), target % 60);
    if (at.getTime() >= from.getTime()) return at;
  }
  return from;
}

/**
 * When a quiet window (`from`–`to` local, e.g. 21:00–09:00, crossing
 * midnight or not) is on at `at`, the instant it ends; otherwise undefined.
 */
export function quietUntil(at: Date, zone: string | null | undefined, from: string, to: string): Date | undefined {
  const l = localTime(at, zone);
  const now = l.hour * 60 + l.minute;
  const a = minutesOfDay(from);
  const b = minutesOfDay(to);
  if (a === b) return undefined;
  const inside = a < b ? now >= a && now < b : now >= a || now < b;
  return inside ? nextLocalTime(at, zone, to) : undefined;
}
