"""Inventory: the reservation hot path as two server-side functions.

A reservation used to send its candidate read, a savepoint, one take per stock row and the savepoint's
release as separate statements, and PostgreSQL planned the candidate read and every take afresh on
each call (custom plans win its cost comparison for these parameters). `inventory_candidates` and
`inventory_take` do the same work in one round trip each, planned once per connection
(`plan_cache_mode = force_generic_plan` set on the functions only), and the take's own
sub-transaction (its EXCEPTION block) replaces the savepoint: a take that finds no bucket rolls back
every take of the call, and every row lock it took, before returning nothing.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 23:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The variants asked for (whether they exist and track stock) and the stock rows each may draw from:
# warehouse, its priority and coordinates, the units free across the row's buckets, its bucket count.
CANDIDATES = """
CREATE FUNCTION inventory_candidates(p_variants uuid[], p_channel uuid, p_country text)
RETURNS TABLE (stock_id uuid, variant_id uuid, warehouse_id uuid, priority integer, latitude double precision,
               longitude double precision, free bigint, buckets bigint, track_inventory boolean)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT c.stock_id, v.id, c.warehouse_id, c.priority, c.latitude, c.longitude, c.free, c.buckets,
           v.track_inventory
    FROM variants v
    LEFT JOIN LATERAL (
        SELECT s.id AS stock_id, w.id AS warehouse_id, w.priority, w.latitude, w.longitude, b.free, b.buckets
        FROM stock_levels s
        JOIN warehouses w ON w.id = s.warehouse_id AND w.is_active
        JOIN LATERAL (SELECT coalesce(sum(greatest(sb.quota - sb.reserved - sb.allocated, 0)), 0)::bigint AS free,
                             count(*) AS buckets
                      FROM stock_buckets sb WHERE sb.stock_id = s.id) b ON true
        WHERE s.variant_id = v.id
          AND (p_channel IS NULL OR p_channel = ANY(w.channel_ids))
          AND (p_country IS NULL OR cardinality(w.ship_countries) = 0 OR p_country = ANY(w.ship_countries))
    ) c ON true
    WHERE v.id = ANY(p_variants);
END
$fn$
"""

# Takes `p_quantities[i]` units of stock row `p_stocks[i]` from one bucket each, holding them for
# `p_reference` and writing each hold's ledger movement. Mode `skip_locked`: a bucket with room at a
# random offset, skipping buckets other buyers have locked. Mode `wait_one`: one random bucket that had
# room, waiting for its lock (the update re-checks the room once the buyer ahead commits). All takes or
# none: a take that finds no bucket rolls the whole call back and the function returns no rows.
# Returns, per take (1-based, in argument order), the bucket used and the units it has left.
TAKE = """
CREATE FUNCTION inventory_take(
    p_mode text, p_stocks uuid[], p_quantities integer[], p_bucket_counts integer[], p_ids uuid[],
    p_variants uuid[], p_warehouses uuid[], p_reference text, p_channel uuid, p_expires timestamptz,
    p_ref_type text, p_ref_id text, p_actor text)
RETURNS TABLE (take integer, bucket smallint, free integer)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
DECLARE
    i integer;
    v_n smallint;
    v_pick smallint;
    v_free integer;
    v_offset integer;
    v_ns smallint[] := '{}';
    v_frees integer[] := '{}';
BEGIN
    BEGIN
        FOR i IN 1 .. coalesce(cardinality(p_stocks), 0) LOOP
            v_n := NULL;
            v_pick := NULL;
            -- The bucket is picked by its own statement, then updated by its key: picked inside the
            -- UPDATE, a re-scan of the pick could skip the row this very statement had just updated
            -- and take a second bucket.
            IF p_mode = 'skip_locked' THEN
                v_offset := floor(random() * 64)::integer;
                SELECT sb.n INTO v_pick FROM stock_buckets sb
                WHERE sb.stock_id = p_stocks[i] AND sb.quota - sb.reserved - sb.allocated >= p_quantities[i]
                ORDER BY (sb.n + v_offset) % greatest(p_bucket_counts[i], 1)
                LIMIT 1 FOR UPDATE SKIP LOCKED;
            ELSIF p_mode = 'wait_one' THEN
                SELECT sb.n INTO v_pick FROM stock_buckets sb
                WHERE sb.stock_id = p_stocks[i] AND sb.quota - sb.reserved - sb.allocated >= p_quantities[i]
                ORDER BY random() LIMIT 1;
            ELSE
                RAISE EXCEPTION 'inventory_take: unknown mode %', p_mode;
            END IF;
            IF v_pick IS NOT NULL THEN
                -- Waits for the bucket's lock in `wait_one` (held already in `skip_locked`), then
                -- re-checks its room against the committed row.
                UPDATE stock_buckets b SET reserved = b.reserved + p_quantities[i]
                WHERE b.stock_id = p_stocks[i] AND b.n = v_pick
                  AND b.quota - b.reserved - b.allocated >= p_quantities[i]
                RETURNING b.n, b.quota - b.reserved - b.allocated INTO v_n, v_free;
            END IF;
            IF v_n IS NULL THEN
                RAISE EXCEPTION USING ERRCODE = 'MI001', MESSAGE = 'no bucket could be taken';
            END IF;
            INSERT INTO stock_reservations (id, reference, stock_id, bucket, variant_id, warehouse_id, quantity,
                                            channel_id, expires_at, created_at)
            VALUES (p_ids[i], p_reference, p_stocks[i], v_n, p_variants[i], p_warehouses[i], p_quantities[i],
                    p_channel, p_expires, now());
            INSERT INTO stock_movements (stock_id, variant_id, warehouse_id, kind, quantity, on_hand_delta,
                                         reserved_delta, allocated_delta, reason, reference_type, reference_id,
                                         actor, created_at)
            VALUES (p_stocks[i], p_variants[i], p_warehouses[i], 'reservation', p_quantities[i], 0,
                    p_quantities[i], 0, NULL, p_ref_type, p_ref_id, p_actor, now());
            v_ns := v_ns || v_n;
            v_frees := v_frees || v_free;
        END LOOP;
    EXCEPTION WHEN SQLSTATE 'MI001' THEN
        RETURN;  -- the block's sub-transaction is rolled back: no take, no hold, no row lock is kept
    END;
    RETURN QUERY SELECT g, v_ns[g], v_frees[g] FROM generate_subscripts(v_ns, 1) AS g;
END
$fn$
"""


def upgrade() -> None:
    op.execute(CANDIDATES)
    op.execute(TAKE)


def downgrade() -> None:
    op.execute("DROP FUNCTION inventory_take(text, uuid[], integer[], integer[], uuid[], uuid[], uuid[], text, uuid, "
               "timestamptz, text, text, text)")
    op.execute("DROP FUNCTION inventory_candidates(uuid[], uuid, text)")
