-- A posting to the points ledger in one call (src/loyalty/ledger.ts,
-- postPoints). It used to take three to five statements, each a round trip
-- parsed and planned afresh; on a small machine shared by Node and PostgreSQL
-- that CPU was the limit. Here the plans are cached per connection, and a
-- posting is BEGIN, this call, COMMIT. A posting of one entry (step 0) is a
-- single statement; anything else, and a one-entry posting step 0 did not
-- write, goes through steps 1-4.
--
-- postPoints validates the entries and prepares the arguments:
--   p_customers  the distinct customers, ascending (the lock order);
--   p_at         per entry, its customer's position in p_customers (from 1);
--   p_deltas     per entry, the signed change it asks for;
--   p_first      per entry, the position of an earlier entry of the call with
--                the same key, or NULL;
--   p_events     per entry, the name of its event.
-- It answers jsonb: {points, balances, created} (one element per entry), or
-- {error: 'not_found', customer} / {error: 'conflict', entry} /
-- {error: 'unprocessable', entry, balance} (entry from 0) with nothing
-- written. Refusals are answers, not exceptions, so the caller's transaction
-- stays usable, as it did when the checks ran in TypeScript.
--
-- VOLATILE (the default): in READ COMMITTED each statement below takes a new
-- snapshot, so the key look-up of step 2, after the lock, sees what the
-- previous lock holder committed. That is why the lock and the look-up are
-- two statements there.
CREATE FUNCTION loyalty_post_points(
  p_ws text,
  p_customers bigint[],
  p_at int[],
  p_kinds text[],
  p_deltas bigint[],
  p_reasons text[],
  p_references text[],
  p_keys text[],
  p_first int[],
  p_events text[],
  p_now timestamptz
) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_n int := cardinality(p_keys);
  v_ids bigint[];
  v_balance bigint[];
  v_earned bigint[];
  v_spent bigint[];
  v_touched boolean[];
  v_prior_customer bigint[];
  v_prior_kind text[];
  v_prior_points bigint[];
  v_prior_balance bigint[];
  v_points bigint[];
  v_after bigint[];
  v_created boolean[];
  v_any boolean := false;
  v_c int;
  v_j int;
  v_before bigint;
  v_delta bigint;
  v_one_points bigint;
  v_one_after bigint;
  r record;
BEGIN
  -- 0. One entry (most postings: a storefront request, an order credit, a
  --    journey award): the lock, the arithmetic and the writes in a single
  --    statement. The lock returns the latest committed balance, even after
  --    waiting for another posting. The key is checked by the unique index
  --    (ON CONFLICT DO NOTHING), which sees keys committed after this
  --    statement's snapshot too, so a concurrent retry cannot be written twice.
  --    When nothing was written (a repeat, a conflict, a refusal, a missing
  --    account) the steps below run and give the answer; nothing here has
  --    been written then, and holding the lock already is harmless.
  IF v_n = 1 THEN
    WITH a AS (
      SELECT customer_id, balance,
             CASE WHEN p_kinds[1] IN ('redeem', 'adjust') OR balance + p_deltas[1] >= 0 THEN p_deltas[1] ELSE -balance END AS delta
        FROM loyalty_accounts WHERE workspace_id = p_ws AND customer_id = p_customers[1] FOR UPDATE
    ), e AS (
      INSERT INTO loyalty_ledger (workspace_id, customer_id, kind, points, balance_after, reason, reference, idempotency_key, created_at)
      SELECT p_ws, a.customer_id, p_kinds[1], a.delta, a.balance + a.delta, p_reasons[1], p_references[1], p_keys[1], p_now
        FROM a WHERE a.balance + a.delta >= 0
      ON CONFLICT (workspace_id, idempotency_key) DO NOTHING
      RETURNING customer_id, points, balance_after
    ), u AS (
      -- Finds the row version locked above (READ COMMITTED follows it after a wait).
      UPDATE loyalty_accounts t SET balance = e.balance_after, earned = t.earned + greatest(e.points, 0),
             spent = t.spent - CASE WHEN p_kinds[1] = 'redeem' THEN e.points ELSE 0 END,
             last_activity_at = p_now, updated_at = p_now
        FROM e WHERE t.workspace_id = p_ws AND t.customer_id = e.customer_id
    ), v AS (
      INSERT INTO events (workspace_id, message_id, type, name, customer_id, properties, occurred_at, received_at)
      SELECT p_ws, 'points:' || p_keys[1], 'loyalty', p_events[1], e.customer_id,
             jsonb_build_object('points', e.points, 'balance', e.balance_after, 'reason', p_reasons[1])
               || CASE WHEN p_references[1] <> '' THEN jsonb_build_object('reference', p_references[1]) ELSE '{}'::jsonb END,
             p_now, p_now
        FROM e WHERE e.points <> 0
      ON CONFLICT (workspace_id, message_id) DO NOTHING
    )
    SELECT e.points, e.balance_after INTO v_one_points, v_one_after FROM e;
    IF FOUND THEN
      RETURN jsonb_build_object('points', jsonb_build_array(v_one_points), 'balances', jsonb_build_array(v_one_after), 'created', '[true]'::jsonb);
    END IF;
  END IF;

  -- 1. Lock the accounts in id order (two postings never wait on each other
  --    in a circle), creating the missing ones first: rare, a first posting.
  SELECT array_agg(a.customer_id ORDER BY a.customer_id), array_agg(a.balance ORDER BY a.customer_id) INTO v_ids, v_balance
    FROM (SELECT customer_id, balance FROM loyalty_accounts
           WHERE workspace_id = p_ws AND customer_id = ANY(p_customers) ORDER BY customer_id FOR UPDATE) a;
  IF coalesce(cardinality(v_ids), 0) < cardinality(p_customers) THEN
    INSERT INTO loyalty_accounts (workspace_id, customer_id, updated_at)
    SELECT p_ws, c.id, p_now FROM customers c WHERE c.workspace_id = p_ws AND c.id = ANY(p_customers)
    ON CONFLICT (customer_id) DO NOTHING;
    SELECT array_agg(a.customer_id ORDER BY a.customer_id), array_agg(a.balance ORDER BY a.customer_id) INTO v_ids, v_balance
      FROM (SELECT customer_id, balance FROM loyalty_accounts
             WHERE workspace_id = p_ws AND customer_id = ANY(p_customers) ORDER BY customer_id FOR UPDATE) a;
    IF coalesce(cardinality(v_ids), 0) < cardinality(p_customers) THEN
      RETURN jsonb_build_object('error', 'not_found', 'customer',
        (SELECT min(c) FROM unnest(p_customers) c WHERE c <> ALL(coalesce(v_ids, '{}'))));
    END IF;
  END IF;
  -- Both are ascending and distinct: v_balance[i] is p_customers[i]'s balance.
  v_earned := array_fill(0::bigint, ARRAY[cardinality(p_customers)]);
  v_spent := v_earned;
  v_touched := array_fill(false, ARRAY[cardinality(p_customers)]);

  -- 2. Keys already written, read after the lock.
  FOR r IN SELECT k.i::int AS i, l.customer_id, l.kind, l.points, l.balance_after
             FROM unnest(p_keys) WITH ORDINALITY AS k(key, i)
             JOIN loyalty_ledger l ON l.workspace_id = p_ws AND l.idempotency_key = k.key LOOP
    v_prior_customer[r.i] := r.customer_id;
    v_prior_kind[r.i] := r.kind;
    v_prior_points[r.i] := r.points;
    v_prior_balance[r.i] := r.balance_after;
  END LOOP;

  -- 3. Apply the entries in order.
  FOR i IN 1 .. v_n LOOP
    v_c := p_at[i];
    IF v_prior_customer[i] IS NOT NULL THEN
      -- A repeat answers what the first posting did; the key for another entry is refused.
      IF v_prior_customer[i] <> p_customers[v_c] OR v_prior_kind[i] <> p_kinds[i] THEN
        RETURN jsonb_build_object('error', 'conflict', 'entry', i - 1);
      END IF;
      v_points[i] := v_prior_points[i];
      v_after[i] := v_prior_balance[i];
      v_created[i] := false;
    ELSIF p_first[i] IS NOT NULL THEN
      -- The same key earlier in this call, written by it.
      v_j := p_first[i];
      IF p_at[v_j] <> v_c OR p_kinds[v_j] <> p_kinds[i] THEN
        RETURN jsonb_build_object('error', 'conflict', 'entry', i - 1);
      END IF;
      v_points[i] := v_points[v_j];
      v_after[i] := v_after[v_j];
      v_created[i] := false;
    ELSE
      v_before := v_balance[v_c];
      v_delta := p_deltas[i];
      IF v_before + v_delta < 0 THEN
        IF p_kinds[i] IN ('redeem', 'adjust') THEN
          RETURN jsonb_build_object('error', 'unprocessable', 'entry', i - 1, 'balance', v_before);
        END IF;
        v_delta := -v_before;  -- expiry and clawback take what is left
      END IF;
      v_balance[v_c] := v_before + v_delta;
      IF v_delta > 0 THEN v_earned[v_c] := v_earned[v_c] + v_delta; END IF;
      IF p_kinds[i] = 'redeem' THEN v_spent[v_c] := v_spent[v_c] - v_delta; END IF;
      v_touched[v_c] := true;
      v_points[i] := v_delta;
      v_after[i] := v_before + v_delta;
      v_created[i] := true;
      v_any := true;
    END IF;
  END LOOP;

  -- 4. Write the new entries, the balances and the events (an entry that took
  --    nothing has no event). Loyalty facts touch no rollup.
  IF v_any THEN
    WITH x AS (
      SELECT * FROM unnest(p_at, p_kinds, v_points, v_after, p_reasons, p_references, p_keys, v_created, p_events)
                    WITH ORDINALITY AS x(pos, kind, points, balance_after, reason, reference, key, created, event, i)
       WHERE x.created
    ), entries AS (
      INSERT INTO loyalty_ledger (workspace_id, customer_id, kind, points, balance_after, reason, reference, idempotency_key, created_at)
      SELECT p_ws, p_customers[x.pos], x.kind, x.points, x.balance_after, x.reason, x.reference, x.key, p_now FROM x ORDER BY x.i
    ), balances AS (
      UPDATE loyalty_accounts a SET balance = u.balance, earned = a.earned + u.earned, spent = a.spent + u.spent,
                                   last_activity_at = p_now, updated_at = p_now
        FROM unnest(p_customers, v_balance, v_earned, v_spent, v_touched) AS u(customer_id, balance, earned, spent, touched)
       WHERE u.touched AND a.workspace_id = p_ws AND a.customer_id = u.customer_id
    )
    INSERT INTO events (workspace_id, message_id, type, name, customer_id, properties, occurred_at, received_at)
    SELECT p_ws, 'points:' || x.key, 'loyalty', x.event, p_customers[x.pos],
           jsonb_build_object('points', x.points, 'balance', x.balance_after, 'reason', x.reason)
             || CASE WHEN x.reference <> '' THEN jsonb_build_object('reference', x.reference) ELSE '{}'::jsonb END,
           p_now, p_now
      FROM x WHERE x.points <> 0 ORDER BY x.i
    ON CONFLICT (workspace_id, message_id) DO NOTHING;
  END IF;
  RETURN jsonb_build_object('points', to_jsonb(v_points), 'balances', to_jsonb(v_after), 'created', to_jsonb(v_created));
END $$;
