-- The control database: rollouts, their recorded state, an append-only history,
-- billing milestones and the outbox that publishes them.

CREATE TABLE rollouts (
    id          bigserial PRIMARY KEY,
    client      text NOT NULL,
    contract    text NOT NULL,
    signed_off  date NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    UNIQUE (client, contract)
);
CREATE INDEX rollouts_client ON rollouts (client, signed_off DESC, id DESC);

-- A person's mark on a task (observed tasks are checked, not stored, except when a
-- person vouches for one). Undo deletes the mark; the history keeps both.
CREATE TABLE task_marks (
    rollout_id  bigint NOT NULL REFERENCES rollouts (id),
    task        text NOT NULL,
    marked_by   text NOT NULL,
    marked_at   timestamptz NOT NULL DEFAULT now(),
    note        text,
    PRIMARY KEY (rollout_id, task)
);

CREATE TABLE phase_completions (
    rollout_id      bigint NOT NULL REFERENCES rollouts (id),
    phase           integer NOT NULL,
    completed_at    timestamptz NOT NULL DEFAULT now(),
    completed_by    text NOT NULL,
    override_reason text,
    PRIMARY KEY (rollout_id, phase)
);

-- Replans are kept, never edited: the latest per phase is the estimate in force.
CREATE TABLE replans (
    id          bigserial PRIMARY KEY,
    rollout_id  bigint NOT NULL REFERENCES rollouts (id),
    phase       integer NOT NULL,
    min_days    integer NOT NULL CHECK (min_days >= 1),
    max_days    integer NOT NULL CHECK (max_days >= min_days),
    reason      text NOT NULL,
    replanned_by text NOT NULL,
    replanned_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX replans_rollout ON replans (rollout_id);

-- A pause is closed by resume (ended set once); at most one open pause per rollout.
CREATE TABLE pauses (
    id          bigserial PRIMARY KEY,
    rollout_id  bigint NOT NULL REFERENCES rollouts (id),
    started     date NOT NULL,
    ended       date,
    reason      text NOT NULL,
    paused_by   text NOT NULL
);
CREATE UNIQUE INDEX pauses_one_open ON pauses (rollout_id) WHERE ended IS NULL;

-- The last observation of each observed task (a cache for the portfolio view).
CREATE TABLE observations (
    rollout_id  bigint NOT NULL REFERENCES rollouts (id),
    check_name  text NOT NULL,
    state       text NOT NULL CHECK (state IN ('done', 'not-done', 'unknown')),
    detail      text NOT NULL,
    checked_at  timestamptz NOT NULL,
    PRIMARY KEY (rollout_id, check_name)
);

-- Who did what and when; appended, never rewritten (the trigger refuses it).
CREATE TABLE history (
    id          bigserial PRIMARY KEY,
    rollout_id  bigint NOT NULL REFERENCES rollouts (id),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    subject     text NOT NULL DEFAULT '',
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX history_rollout ON history (rollout_id, id);

CREATE FUNCTION history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'history is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON history
    FOR EACH ROW EXECUTE FUNCTION history_is_append_only();
CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON history
    FOR EACH STATEMENT EXECUTE FUNCTION history_is_append_only();

-- A milestone happens once per client and contract; its id is the idempotency key.
CREATE TABLE milestones (
    id          uuid PRIMARY KEY,
    rollout_id  bigint NOT NULL REFERENCES rollouts (id),
    client      text NOT NULL,
    contract    text NOT NULL,
    milestone   text NOT NULL,
    occurred_at timestamptz NOT NULL,
    UNIQUE (client, contract, milestone)
);

-- Written in the same transaction as the milestone; the publisher sends and confirms.
CREATE TABLE outbox (
    milestone_id uuid PRIMARY KEY REFERENCES milestones (id),
    event        jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 0,
    published_at timestamptz,
    event_id     text
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
