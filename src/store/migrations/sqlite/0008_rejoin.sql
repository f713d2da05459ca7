-- RJcount0 of rejoin types 0 and 2 must grow within a session (the counter
-- restarts with every new session, whose keys make older rejoins fail their MIC).
ALTER TABLE join_state ADD COLUMN rj_count0 INTEGER;
