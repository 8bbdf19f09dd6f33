import type { LintRule } from '../rule.js';

/** pendingJournal: the lint read the files as they were before journal replay; said, so a reader knows what it saw. */
export const pendingJournal: LintRule = {
  name: 'journal',
  ids: ['lint-before-replay'],
  check({ facts }) {
    if (!facts.replayPending) return [];
    return [
      {
        id: 'lint-before-replay',
        severity: 'info',
        message: 'the journal holds changes not yet replayed (the filesystem was not cleanly unmounted or frozen): the lint read the files as they were before those changes',
        remedy: 'none for the lint; freeze the filesystem around snapshots (fsfreeze) to make them consistent',
        evidence: ['ext4 feature needs_recovery'],
      },
    ];
  },
};
