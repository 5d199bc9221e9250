/**
 * @module segments — live segments: a typed rule language compiled to SQL
 * with bound parameters, membership kept current (on every change and on a
 * schedule) with `Segment Entered` / `Segment Exited` in the event log, the
 * built-in segments, previews, and exports (CSV, ad-platform audiences).
 */
export { Rule, PropertyFilter, checkRule, type CheckedRule } from "./rule.ts";
export { matchesPropertyFilters } from "./property-filter.ts";
export { customersMatching } from "./membership.ts";
export { CUSTOMER_ZONE_SQL } from "./compile.ts";
export { fieldCatalogue, FIELDS, OPERATORS, OPERATORS_BY_TYPE, type FieldType, type Operator, type FieldCatalogue, type CatalogueField } from "./fields.ts";
export { BUILT_IN_SEGMENTS, type BuiltInSegment } from "./built-in.ts";
export {
  SegmentInput,
  SegmentPatch,
  MembersQuery,
  PreviewInput,
  HistoryQuery,
  createSegment,
  updateSegment,
  deleteSegment,
  noteSegmentUses,
  getSegment,
  listSegments,
  listMembers,
  previewSegment,
  segmentHistory,
  customerSegments,
  ensureBuiltInSegments,
  type Segment,
  type SavedSegment,
  type MemberView,
  type Preview,
} from "./segments-store.ts";
export { evaluateSegments, evaluationMoves, processCustomerChanges, pendingChanges, type EvaluationResult, type ChangesResult, type SyncResult } from "./membership.ts";
export { scheduleSegments, fullEvaluationDue, type SegmentWorker } from "./schedule.ts";
export { exportSegment, ExportQuery, CSV_COLUMNS, AUDIENCE_FORMATS, normaliseEmail, normalisePhone, csvField, type ExportSummary, type AudienceFormat } from "./export.ts";
