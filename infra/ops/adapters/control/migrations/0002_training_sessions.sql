-- Phase 4's training sessions (tenantctl rollout training): an instant with the zone it
-- was scheduled in (the client's locale.timezone), held once (done_at set once).
CREATE TABLE training_sessions (
    id               bigserial PRIMARY KEY,
    rollout_id       bigint NOT NULL REFERENCES rollouts (id),
    starts_at        timestamptz NOT NULL,
    timezone         text NOT NULL,
    duration_minutes integer NOT NULL CHECK (duration_minutes >= 1),
    topic            text NOT NULL CHECK (topic <> ''),
    attendees        text[] NOT NULL DEFAULT '{}',
    scheduled_by     text NOT NULL,
    scheduled_at     timestamptz NOT NULL DEFAULT now(),
    done_at          timestamptz,
    done_by          text,
    note             text,
    CHECK ((done_at IS NULL) = (done_by IS NULL))
);
CREATE INDEX training_sessions_rollout ON training_sessions (rollout_id, starts_at);
