-- 0005: when the store was last compacted.
--
-- Compact sets it (unix nanoseconds) inside its transaction, under the
-- log lock; stat reports it as LastCompaction. NULL: never compacted.
ALTER TABLE {schema}.log_state ADD COLUMN last_compaction bigint;
