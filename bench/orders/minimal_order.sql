-- pgbench script: what one pre-order minimally costs PostgreSQL, with no application in front of it.
-- One transaction: the guarded reservation of one unit of an item, the order row, its line, its confirmation in the
-- outbox. run.py passes the scratch database's ids and the scenario with -D: campaign, unit, first_item, items
-- (1: every order for first_item, the hot item), first_user, buyers, price, run (a tag keeping idempotency keys
-- unique across runs), outbox_rows (1: the in-app confirmation; 2: also the SMS one, as the app writes for a buyer
-- with a phone), n = 0 (it counts a client's orders: pgbench keeps a client's variables between transactions).
-- A refused reservation returns no row, \gset fails and pgbench aborts the client: every transaction it counts wrote
-- one order. ':' || 'placed' is spelt so because pgbench would read :placed inside a literal as a variable.
\set item :first_item + random(0, :items - 1)
\set buyer random(0, :buyers - 1)
\set user_id :first_user + :buyer
\set n :n + 1
BEGIN;
UPDATE campaign_item SET ordered = ordered + 1, updated_at = now() AT TIME ZONE 'UTC'
    WHERE id = :item AND capacity - ordered >= 1
    RETURNING id AS reserved_item \gset
INSERT INTO buyer_order (campaign_id, unit_id, user_id, buyer_name, buyer_phone, placed_by_id, source, status,
        total_fen, idempotency_key, payment_status, created_at, updated_at)
    VALUES (:campaign, :unit, :user_id, '职工' || CAST(:buyer AS text), '137' || lpad(CAST(:buyer AS text), 8, '0'), :user_id,
        'buyer', 'placed', :price, 'pgbench-' || CAST(:run AS text) || '-' || CAST(:client_id AS text) || '-' || CAST(:n AS text), 'unpaid',
        now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
    RETURNING id AS order_id \gset
INSERT INTO order_line (order_id, item_id, quantity, price_fen, cancelled)
    VALUES (:order_id, :reserved_item, 1, :price, false);
INSERT INTO notification (recipient, user_id, channel, kind, subject, title, body, status, attempts,
        next_attempt_at, created_at)
    VALUES ('user:' || CAST(:user_id AS text), :user_id, 'inapp', 'order_confirmed', 'order:' || CAST(:order_id AS text) || ':' || 'placed',
        '预订单 #' || CAST(:order_id AS text) || ' 已收到', '压测活动：鸡蛋 × 1，合计 ¥1.50。', 'pending', 0,
        now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC');
\if :outbox_rows > 1
INSERT INTO notification (recipient, user_id, channel, address, kind, subject, title, body, status, attempts,
        next_attempt_at, created_at)
    VALUES ('user:' || CAST(:user_id AS text), :user_id, 'sms', '137' || lpad(CAST(:buyer AS text), 8, '0'),
        'order_confirmed', 'order:' || CAST(:order_id AS text) || ':' || 'placed',
        '预订单 #' || CAST(:order_id AS text) || ' 已收到', '压测活动：鸡蛋 × 1，合计 ¥1.50。', 'pending', 0,
        now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC');
\endif
END;
