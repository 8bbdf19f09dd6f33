/** The history record, change and trend types are judged data: they live in judges/history.ts (no judges ⇄ history cycle). */
export type * from '../judges/history.js';
