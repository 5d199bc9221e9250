-- segment_memberships: one index instead of two. Migration 018 left the
-- unique index of current stays (segment, customer) WHERE exited_at IS NULL
-- and an index of every stay by (segment, customer): the same keys twice,
-- each paid for by every stay written. One unique index over
-- (segment, customer, exit time), where NULLs (the open stays) count as
-- equal, does both jobs:
-- - it still allows one open stay per customer and segment;
-- - it finds a segment's current members, a customer's stays and whether a
--   customer is in a segment, as the two did.
-- Measured on PGlite, a first evaluation of the nine built-ins over a
-- million synthetic customers wrote its 839,000 stays in 3.8-3.9 s instead
-- of 5.1 s (docs/benchmarks.md, 2026-11-25).
--
-- It also means no customer leaves the same segment twice at the same
-- instant. Two stays can only end together if the later one began at that
-- instant too: entered and left within one instant, a stay of no length.
-- Evaluations now delete such a stay rather than close it (its
-- `Segment Entered` and `Segment Exited` events stay in the log), and the
-- ones already kept are removed here.
DELETE FROM segment_memberships WHERE exited_at IS NOT NULL AND exited_at <= entered_at;
CREATE UNIQUE INDEX segment_memberships_by_stay ON segment_memberships (segment_id, customer_id, exited_at) NULLS NOT DISTINCT;
DROP INDEX IF EXISTS segment_members_current;
DROP INDEX IF EXISTS segment_memberships_stays;
