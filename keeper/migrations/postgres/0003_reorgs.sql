-- Reorgs (issue 15 #8): the block of the event that anchored a batch, of the event that finalized or voided it,
-- and of a paid request's latest event, so a reorg under the receipts' cursor rolls back exactly what the
-- orphaned blocks applied. Keep in step with the other backend's migration.
ALTER TABLE receipt_batches ADD COLUMN anchored_block BIGINT;
ALTER TABLE receipt_batches ADD COLUMN settled_block BIGINT;
ALTER TABLE paid_requests ADD COLUMN status_block BIGINT;
