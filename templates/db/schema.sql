-- Application database schema (PostgreSQL 15).
--
-- Executed once, as a single string, into a fresh database: the stack's
-- `<slug>_<stage>_defaults` template database, which is then seeded from
-- seed.sql.j2. No psql meta-commands, no CREATE DATABASE.
--
-- Three schemas, and the rule the operations code depends on:
--
--   config    Configuration: what the client sets up in preview and what
--             `tenantctl promote` carries to production. Every table has a
--             single-column primary key (a stable natural code, so preview and
--             production seeded separately agree on keys and a dry-run diff
--             shows only real changes). No updated_at/now() defaults here
--             either: promote --dry-run compares whole rows, so a seeding
--             timestamp would mark every row as changed.
--   activity  Transactions: accounts, permits sold, violations issued,
--             payments taken. Never promoted; reset-preview throws them away.
--   stack     Facts about this one stack (its stage and public URLs). Seeded
--             per stack, never promoted: copying them from preview would point
--             production at the preview site.
--
-- Foreign keys: every one is DEFERRABLE INITIALLY IMMEDIATE and uses the
-- default ON DELETE NO ACTION. Promotion deletes and re-inserts config rows in
-- one transaction with SET CONSTRAINTS ALL DEFERRED, so activity rows that
-- reference config rows stay valid as long as the key comes back. Never use
-- ON DELETE CASCADE (it would delete production activity during promotion) or
-- RESTRICT (it is checked immediately even when deferred). activity may
-- reference config; config may reference config; config never references
-- activity. Retire a config row by setting `active = false`, not by deleting
-- it, once activity rows point at it.

CREATE SCHEMA config;
CREATE SCHEMA activity;
CREATE SCHEMA stack;

COMMENT ON SCHEMA config IS 'Configuration tables: promoted from preview to production.';
COMMENT ON SCHEMA activity IS 'Transactional tables: never promoted.';
COMMENT ON SCHEMA stack IS 'Per-stack facts (stage, URLs): seeded per stack, never promoted.';

-- ------------------------------------------------------------------ config

CREATE TABLE config.settings (
    key         text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$'),
    value       text,
    description text NOT NULL DEFAULT ''
);
COMMENT ON TABLE config.settings IS 'Organization-wide key/value settings; NULL value means not set.';

-- Named sales periods (academic year, semesters) that term permits run for.
CREATE TABLE config.terms (
    code       text PRIMARY KEY CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{0,31}$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    starts_on  date NOT NULL,
    ends_on    date NOT NULL,
    active     boolean NOT NULL DEFAULT true,
    CHECK (ends_on > starts_on)
);

CREATE TABLE config.lots (
    code              text PRIMARY KEY CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{0,31}$'),
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    description       text NOT NULL DEFAULT '',
    address           text NOT NULL DEFAULT '',
    kind              text NOT NULL DEFAULT 'surface'
                      CHECK (kind IN ('surface', 'garage', 'street', 'motorcycle')),
    capacity          integer NOT NULL CHECK (capacity >= 0),
    accessible_spaces integer NOT NULL DEFAULT 0 CHECK (accessible_spaces >= 0),
    ev_spaces         integer NOT NULL DEFAULT 0 CHECK (ev_spaces >= 0),
    latitude          numeric(9, 6) CHECK (latitude BETWEEN -90 AND 90),
    longitude         numeric(9, 6) CHECK (longitude BETWEEN -180 AND 180),
    hours             text NOT NULL DEFAULT '',
    active            boolean NOT NULL DEFAULT true,
    sort_order        integer NOT NULL DEFAULT 0,
    CHECK (accessible_spaces + ev_spaces <= capacity)
);

CREATE TABLE config.permit_types (
    code              text PRIMARY KEY CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{0,31}$'),
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    description       text NOT NULL DEFAULT '',
    price_cents       integer NOT NULL CHECK (price_cents >= 0),
    -- A permit runs either for a named term or for a number of days from purchase.
    term_code         text REFERENCES config.terms (code) DEFERRABLE INITIALLY IMMEDIATE,
    duration_days     integer CHECK (duration_days BETWEEN 1 AND 730),
    eligible_groups   text[] NOT NULL
                      CHECK (cardinality(eligible_groups) > 0
                             AND eligible_groups <@ ARRAY['student', 'resident_student',
                                 'faculty', 'staff', 'visitor', 'contractor']::text[]),
    max_per_account   integer NOT NULL DEFAULT 1 CHECK (max_per_account >= 1),
    max_vehicles      integer NOT NULL DEFAULT 2 CHECK (max_vehicles >= 1),
    quantity_limit    integer CHECK (quantity_limit >= 0),
    requires_approval boolean NOT NULL DEFAULT false,
    on_sale           boolean NOT NULL DEFAULT true,
    active            boolean NOT NULL DEFAULT true,
    sort_order        integer NOT NULL DEFAULT 0,
    CHECK ((term_code IS NULL) <> (duration_days IS NULL))
);
COMMENT ON COLUMN config.permit_types.quantity_limit IS 'Most permits sold per term; NULL = unlimited.';

-- Which lots a permit type is valid in. The key is '<permit_type_code>@<lot_code>',
-- so the table keeps a single-column primary key that is the same in every stack.
CREATE TABLE config.permit_type_lots (
    id               text PRIMARY KEY,
    permit_type_code text NOT NULL
                     REFERENCES config.permit_types (code) DEFERRABLE INITIALLY IMMEDIATE,
    lot_code         text NOT NULL
                     REFERENCES config.lots (code) DEFERRABLE INITIALLY IMMEDIATE,
    CHECK (id = permit_type_code || '@' || lot_code)
);
CREATE INDEX permit_type_lots_lot_idx ON config.permit_type_lots (lot_code);

CREATE TABLE config.violation_types (
    code               text PRIMARY KEY CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{0,31}$'),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    description        text NOT NULL DEFAULT '',
    fine_cents         integer NOT NULL CHECK (fine_cents >= 0),
    appeal_window_days integer NOT NULL DEFAULT 14 CHECK (appeal_window_days >= 0),
    late_fee_cents     integer NOT NULL DEFAULT 0 CHECK (late_fee_cents >= 0),
    late_after_days    integer NOT NULL DEFAULT 30 CHECK (late_after_days >= 1),
    tow_eligible       boolean NOT NULL DEFAULT false,
    active             boolean NOT NULL DEFAULT true,
    sort_order         integer NOT NULL DEFAULT 0
);

CREATE TABLE config.system_messages (
    code       text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9-]*$'),
    title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body       text NOT NULL,
    severity   text NOT NULL CHECK (severity IN ('info', 'warning', 'error'))
);

-- Zones the mobile-parking app and the meters key on. Each names its lot by
-- the lot's exact code (tenantctl import refuses near misses such as 'n1 ').
CREATE TABLE config.zones (
    zone      text PRIMARY KEY CHECK (zone ~ '^[A-Za-z0-9][A-Za-z0-9-]{0,31}$'),
    lot_code  text NOT NULL REFERENCES config.lots (code) DEFERRABLE INITIALLY IMMEDIATE,
    name      text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    provider  text NOT NULL CHECK (provider IN ('mobile', 'meter', 'both'))
);
CREATE INDEX zones_lot_idx ON config.zones (lot_code);

-- ------------------------------------------------------------------ stack

CREATE TABLE stack.settings (
    key        text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$'),
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Files loaded by `tenantctl import`, one row per (kind, SHA-256 of the file):
-- importing the same file again changes nothing. The file itself is kept in
-- the stack's content bucket under file_key; promote replays the data kinds
-- recorded in preview into production from there.
CREATE TABLE stack.imports (
    kind        text NOT NULL,
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    file_key    text NOT NULL,
    file_name   text NOT NULL,
    rows        bigint NOT NULL CHECK (rows >= 0),
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, sha256)
);

-- ------------------------------------------------------------------ activity

CREATE TABLE activity.accounts (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email            text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
    full_name        text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    affiliation      text NOT NULL
                     CHECK (affiliation IN ('student', 'resident_student', 'faculty',
                                            'staff', 'visitor', 'contractor')),
    campus_id        text,
    phone            text,
    password_hash    text,
    email_verified_at timestamptz,
    failed_sign_ins  integer NOT NULL DEFAULT 0 CHECK (failed_sign_ins >= 0),
    locked_until     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_email_key ON activity.accounts (lower(email));

CREATE TABLE activity.vehicles (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id  uuid NOT NULL
                REFERENCES activity.accounts (id) DEFERRABLE INITIALLY IMMEDIATE,
    plate       text NOT NULL CHECK (plate ~ '^[A-Z0-9 -]{1,10}$'),
    plate_state text NOT NULL CHECK (plate_state ~ '^[A-Z]{2,3}$'),
    make        text NOT NULL DEFAULT '',
    model       text NOT NULL DEFAULT '',
    color       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, plate_state, plate)
);
CREATE INDEX vehicles_plate_idx ON activity.vehicles (plate, plate_state);

CREATE TABLE activity.permits (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    permit_number    text NOT NULL UNIQUE,
    account_id       uuid NOT NULL
                     REFERENCES activity.accounts (id) DEFERRABLE INITIALLY IMMEDIATE,
    permit_type_code text NOT NULL
                     REFERENCES config.permit_types (code) DEFERRABLE INITIALLY IMMEDIATE,
    vehicle_id       uuid NOT NULL
                     REFERENCES activity.vehicles (id) DEFERRABLE INITIALLY IMMEDIATE,
    status           text NOT NULL DEFAULT 'pending_payment'
                     CHECK (status IN ('pending_approval', 'pending_payment', 'active',
                                       'expired', 'cancelled', 'refunded')),
    price_cents      integer NOT NULL CHECK (price_cents >= 0),
    currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    valid_from       timestamptz NOT NULL,
    valid_until      timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_until > valid_from)
);
CREATE INDEX permits_account_idx ON activity.permits (account_id);
CREATE INDEX permits_type_idx ON activity.permits (permit_type_code);
-- The enforcement lookup (infra/ops/integrations/lookup.py) goes plate -> vehicle -> permit.
CREATE INDEX permits_vehicle_idx ON activity.permits (vehicle_id);
CREATE INDEX vehicles_plate_key_idx
    ON activity.vehicles ((replace(replace(plate, ' ', ''), '-', '')));

CREATE TABLE activity.violations (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    citation_number     text NOT NULL UNIQUE,
    violation_type_code text NOT NULL
                        REFERENCES config.violation_types (code) DEFERRABLE INITIALLY IMMEDIATE,
    lot_code            text REFERENCES config.lots (code) DEFERRABLE INITIALLY IMMEDIATE,
    location_note       text NOT NULL DEFAULT '',
    plate               text NOT NULL CHECK (plate ~ '^[A-Z0-9 -]{1,10}$'),
    plate_state         text NOT NULL CHECK (plate_state ~ '^[A-Z]{2,3}$'),
    vehicle_id          uuid REFERENCES activity.vehicles (id) DEFERRABLE INITIALLY IMMEDIATE,
    permit_id           uuid REFERENCES activity.permits (id) DEFERRABLE INITIALLY IMMEDIATE,
    account_id          uuid REFERENCES activity.accounts (id) DEFERRABLE INITIALLY IMMEDIATE,
    status              text NOT NULL DEFAULT 'open'
                        CHECK (status IN ('open', 'paid', 'appealed', 'dismissed', 'void',
                                          'sent_to_collections')),
    fine_cents          integer NOT NULL CHECK (fine_cents >= 0),
    late_fee_cents      integer NOT NULL DEFAULT 0 CHECK (late_fee_cents >= 0),
    currency            char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    issued_at           timestamptz NOT NULL DEFAULT now(),
    issued_by           text NOT NULL,
    due_on              date NOT NULL,
    appeal_deadline     date NOT NULL,
    notes               text NOT NULL DEFAULT '',
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX violations_plate_idx ON activity.violations (plate, plate_state);
CREATE INDEX violations_account_idx ON activity.violations (account_id);
CREATE INDEX violations_type_idx ON activity.violations (violation_type_code);

CREATE TABLE activity.appeals (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    violation_id  uuid NOT NULL
                  REFERENCES activity.violations (id) DEFERRABLE INITIALLY IMMEDIATE,
    account_id    uuid REFERENCES activity.accounts (id) DEFERRABLE INITIALLY IMMEDIATE,
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 5000),
    status        text NOT NULL DEFAULT 'submitted'
                  CHECK (status IN ('submitted', 'under_review', 'upheld', 'reduced',
                                    'dismissed')),
    decision_note text NOT NULL DEFAULT '',
    submitted_at  timestamptz NOT NULL DEFAULT now(),
    decided_at    timestamptz,
    CHECK ((decided_at IS NULL) = (status IN ('submitted', 'under_review')))
);
CREATE INDEX appeals_violation_idx ON activity.appeals (violation_id);

CREATE TABLE activity.payments (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    receipt_number      text NOT NULL UNIQUE,
    account_id          uuid REFERENCES activity.accounts (id) DEFERRABLE INITIALLY IMMEDIATE,
    permit_id           uuid REFERENCES activity.permits (id) DEFERRABLE INITIALLY IMMEDIATE,
    violation_id        uuid REFERENCES activity.violations (id) DEFERRABLE INITIALLY IMMEDIATE,
    amount_cents        integer NOT NULL CHECK (amount_cents > 0),
    refunded_cents      integer NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0),
    currency            char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    provider            text NOT NULL CHECK (provider IN ('stripe', 'square', 'authorize_net')),
    mode                text NOT NULL CHECK (mode IN ('sandbox', 'live')),
    provider_payment_id text,
    channel             text NOT NULL DEFAULT 'portal' CHECK (channel IN ('portal', 'counter')),
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled',
                                          'refunded', 'partially_refunded')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    completed_at        timestamptz,
    CHECK ((permit_id IS NULL) <> (violation_id IS NULL)),
    CHECK (refunded_cents <= amount_cents)
);
CREATE UNIQUE INDEX payments_provider_payment_key
    ON activity.payments (provider, provider_payment_id)
    WHERE provider_payment_id IS NOT NULL;
CREATE INDEX payments_permit_idx ON activity.payments (permit_id);
CREATE INDEX payments_violation_idx ON activity.payments (violation_id);

-- Parking sessions from the client's integrations (mobile-parking app, meters), one row
-- per (integration, source id): the vendor's latest version of it, or its cancellation
-- (infra/ops/integrations/store.py keeps the rule: a CANCEL is final, else the higher
-- version wins, so redelivered and reordered deliveries change nothing; a cancelled row
-- keeps the description it had when the cancel arrived). Activity:
-- never promoted, and a reset clears it (the defaults hold none). No foreign key to
-- config.lots: lot_code is resolved against it on ingestion, and a lot's retirement
-- must never block a vendor's deliveries. TEST sessions are stored, never authorize.
CREATE TABLE activity.sessions (
    integration    text NOT NULL CHECK (length(integration) BETWEEN 1 AND 64),
    source_id      text NOT NULL CHECK (length(source_id) BETWEEN 1 AND 200),
    version        bigint NOT NULL CHECK (version >= 1),
    kind           text NOT NULL CHECK (kind IN ('NEW', 'EXTEND', 'UPDATE', 'CANCEL', 'TEST')),
    plate          text NOT NULL CHECK (plate ~ '^[A-Z0-9]{0,10}$'),
    region         text CHECK (region ~ '^[A-Z]{2,3}$'),
    country        char(2) CHECK (country ~ '^[A-Z]{2}$'),
    space          text CHECK (length(space) BETWEEN 1 AND 40),
    vendor_zone    text NOT NULL,
    lot_code       text,
    starts_at      timestamptz NOT NULL,
    ends_at        timestamptz,
    amount_minor   bigint CHECK (amount_minor >= 0),
    currency       char(3) CHECK (currency ~ '^[A-Z]{3}$'),
    payload_sha256 text NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration, source_id),
    CHECK (kind = 'CANCEL' OR (lot_code IS NOT NULL AND ends_at IS NOT NULL AND plate <> ''))
);
-- "Is plate P paid in lot L at T": equality on plate and lot, then a range on ends_at
-- (not partial: the lookup also reads a plate's ended and TEST sessions for its reason).
CREATE INDEX sessions_lookup_idx ON activity.sessions (plate, lot_code, ends_at);

-- Sessions held back on ingestion (a vendor zone mapped to no lot), with the reason,
-- once per (integration, source id, version); visible through
-- infra/ops/integrations/store.py quarantined().
CREATE TABLE activity.session_quarantine (
    integration  text NOT NULL,
    source_id    text NOT NULL,
    version      bigint NOT NULL,
    vendor_zone  text NOT NULL,
    reason       text NOT NULL,
    record       jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration, source_id, version)
);
