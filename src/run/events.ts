import type { SnapshotResult } from '../report/types.js';

/** RunEvents are what the orchestrator tells a progress display; every method is optional to implement. */
export interface RunEvents {
  snapshotQueued?(id: string): void;
  phaseStart?(id: string, phase: string): void;
  phaseEnd?(id: string, phase: string, ok: boolean, durationMs: number): void;
  snapshotDone?(result: SnapshotResult): void;
  message?(text: string): void;
}
