-- One counter every client write raises in its own transaction: each node keeps the
-- clients it read in memory and, by reading this one row at most once a second, learns
-- that another node (or the CLI) changed one. Expand-only: a new table.
CREATE TABLE IF NOT EXISTS client_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO client_changes (id, generation) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
