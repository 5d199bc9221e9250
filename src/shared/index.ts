export { AppError, httpStatusOf, exitCodeOf, invalidField, toAppError } from "./errors.ts";
export type { ErrorCode, FieldIssue } from "./errors.ts";
export { systemClock, SimulatedClock } from "./clock.ts";
export type { Clock } from "./clock.ts";
export { isCurrency, minorDigits, parseCurrency, toMinor, formatMoney } from "./money.ts";
export { randomToken, sha256Hex, stableId } from "./ids.ts";
export { issuesOf, parseInput } from "./validate.ts";
export { isRealIsoDate } from "./dates.ts";
export { localTime, fromLocal, nextLocalTime, quietUntil, minutesOfDay, type LocalTime } from "./time-zones.ts";
