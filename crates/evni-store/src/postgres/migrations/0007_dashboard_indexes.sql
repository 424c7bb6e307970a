-- The dashboard's sessions list filtered by category: the sessions of one
-- category, newest first, without scanning every category row.
CREATE INDEX session_categories_by_category ON session_categories (category, started_at, session_id);
