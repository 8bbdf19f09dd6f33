import type { Fact } from '../checks/runner.js';
import type { ToolRun } from './types.js';

/**
 * FactReader reads a check's facts by name, typed by the check's fact map. The runner has already validated every
 * fact value against the schema in the check's header (`facts:`), so the map is the TypeScript side of that schema;
 * test/unit/check-contracts.test.ts holds the names of each map to the header's.
 */
export type FactReader<M> = <K extends keyof M & string>(name: K) => M[K] | undefined;

/** factReader returns the reader of one check run's facts: the value of the first fact of each name. */
export function factReader<M>(facts: readonly Fact[]): FactReader<M> {
  return (name) => facts.find((f) => f.fact === name)?.value as M[typeof name] | undefined;
}

/** factsNamed returns every fact of one name (facts a check may print many times: canary, refused), typed by the map. */
export function factsNamed<M, K extends keyof M & string>(facts: readonly Fact[], name: K): M[K][] {
  return facts.filter((f) => f.fact === name).map((f) => f.value as M[K]);
}

/** CommonFacts are the facts several checks print: the protocol ones (schemas/fact.schema.json) and those of checks/lib/common.sh. */
export interface CommonFacts {
  skipped: { reason: string; remedy?: string };
  aside: { file: string; settings?: string }[];
  refused: { path: string; reason: string };
  /** A canary query's answer (database checks). */
  canary: { name: string; exitCode: number; output: string };
  /** Whether the filesystem could be mounted read-only (dbfind, bootlint). */
  mount: { ok: boolean; output?: string };
}

/** StartupFact is what a database check says of starting the engine on the copy. */
export interface StartupFact {
  ready: boolean;
  died: boolean;
  seconds: number;
  timeoutSeconds: number;
  keyLines: string;
  log: string;
}


/** PostgresqlFacts are the facts of checks/postgresql.sh. */
export interface PostgresqlFacts extends CommonFacts {
  files: { version: string; owner: string; uid: number; gid?: number; postmasterPid: boolean; backupLabel: string | null; tablespaceMap: boolean; recoverySignal: boolean; standbySignal: boolean };
  controldata: ToolRun;
  wal: { segmentBytes: number | null; count: number; first: string; last: string; oddSizes: [string, number][] };
  waldump: { redo: string; timeline: number; exitCode: number; end: string; endSegment?: string; message: string; validBeyondEnd: { segment: string; start: string; record: string } | null };
  startup: StartupFact;
  amcheck: ToolRun;
  checksums: ToolRun;
}

/** MariadbFacts are the facts of checks/mariadb.sh. */
export interface MariadbFacts extends CommonFacts {
  files: { datadirVersion: string; serverVersion: string };
  redo: { magic: string; creator: string; block1: string; block2: string };
  tables: { checked: number; open: [string, string][] };
  startup: StartupFact;
  tablecheck: { exitCode: number; serverAliveAfter: boolean; output: string };
  innochecksum: { checked: number; failures: [string, number, string][] };
}

/** SqliteFacts are the facts of checks/sqlite.sh. */
export interface SqliteFacts extends CommonFacts {
  files: { size: number; header: string; journal: { size: number; head: string } | null; wal: { size: number; head: string } | null };
  superjournal: { nameB64: string; name: string };
  integrity: ToolRun;
}

/** Ext4Facts are the facts of checks/ext4.sh the judge reads as a whole (tool runs go through asToolRun). */
export interface Ext4Facts extends CommonFacts {
  superblock: { exitCode: number; lines: string };
}

/** XfsLogSummary is the xfs check's digest of `xfs_logprint -t`. */
export interface XfsLogSummary {
  state: string;
  tail: string;
  head: string;
  transactions: number;
  /** Item counts by kind: "BUF/superblock", "BUF/agi", "BUF/data", "INO", "EFI", ... */
  items: Record<string, number>;
}

/** XfsFacts are the facts of checks/xfs.sh the judge reads as a whole. */
export interface XfsFacts extends CommonFacts {
  log: { exitCode: number; summary: XfsLogSummary; output: string };
}

/** FACT_NAMES lists each map's own facts (not the common ones), for the contract test against the check headers. */
export const FACT_NAMES = {
  postgresql: ['files', 'controldata', 'wal', 'waldump', 'startup', 'amcheck', 'checksums'],
  mariadb: ['files', 'redo', 'tables', 'startup', 'tablecheck', 'innochecksum'],
  sqlite: ['files', 'superjournal', 'integrity'],
  ext4: ['superblock'],
  xfs: ['log'],
} as const satisfies {
  postgresql: readonly (keyof PostgresqlFacts)[];
  mariadb: readonly (keyof MariadbFacts)[];
  sqlite: readonly (keyof SqliteFacts)[];
  ext4: readonly (keyof Ext4Facts)[];
  xfs: readonly (keyof XfsFacts)[];
};
