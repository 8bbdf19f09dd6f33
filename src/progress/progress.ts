import { Listr, ListrLogger, ProcessOutput, type ListrTaskWrapper } from 'listr2';
import type { RunEvents } from '../run/events.js';
import type { SnapshotResult } from '../report/types.js';
import { formatDuration } from '../util/duration.js';
import { terminalSafe } from '../util/sanitize.js';

/** ProgressMode selects how progress is shown: a live task list, plain lines, or nothing. */
export type ProgressMode = 'tty' | 'plain' | 'none';

/** Progress is a RunEvents sink with a lifecycle around the run. */
export interface Progress extends RunEvents {
  start(ids: string[]): void;
  stop(): Promise<void>;
}

/** chooseProgressMode picks the live list on an interactive terminal outside CI, plain lines otherwise. */
export function chooseProgressMode(requested: string | undefined, stream: NodeJS.WriteStream = process.stderr): ProgressMode {
  if (requested === 'tty' || requested === 'plain' || requested === 'none') return requested;
  return stream.isTTY && !process.env.CI ? 'tty' : 'plain';
}

function useColor(stream: NodeJS.WriteStream): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
}

const COLORS: Record<string, string> = { 'application-consistent': '32', 'crash-consistent': '33', corrupt: '31', unknown: '90' };

/** verdictLine is one snapshot's verdict for the terminal: its id and summary (disk-derived text) made safe first, then our own colour. */
function verdictLine(r: SnapshotResult, color: boolean): string {
  const v = color ? `\u001b[${COLORS[r.consistency]}m${r.consistency}\u001b[0m` : r.consistency;
  return `${terminalSafe(r.id)}: ${v}, boot ${r.boot}, policy ${r.policy.pass ? 'pass' : 'FAIL'} (${terminalSafe(r.summary)})`;
}

/** LineProgress prints one line per phase and per verdict: for logs, CI and pipes. */
export class LineProgress implements Progress {
  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}
  private write(s: string) {
    this.out.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
  }
  start(ids: string[]): void {
    this.write(`verifying ${ids.length} snapshot(s)`);
  }
  // Phase names carry paths found on the disk ("check sqlite /srv/…"): every such string is made terminal-safe.
  phaseStart(id: string, phase: string): void {
    this.write(`${terminalSafe(id)}: ${terminalSafe(phase)} ...`);
  }
  phaseEnd(id: string, phase: string, ok: boolean, ms: number): void {
    this.write(`${terminalSafe(id)}: ${terminalSafe(phase)} ${ok ? 'done' : 'FAILED'} in ${formatDuration(ms)}`);
  }
  snapshotDone(r: SnapshotResult): void {
    this.write(verdictLine(r, useColor(this.out)));
  }
  message(text: string): void {
    this.write(terminalSafe(text));
  }
  async stop(): Promise<void> {}
}

/** SilentProgress shows nothing. */
export class SilentProgress implements Progress {
  start(): void {}
  async stop(): Promise<void> {}
}

interface Entry {
  title: string;
  task?: ListrTaskWrapper<unknown, any, any>;
  resolve?: () => void;
  reject?: (e: Error) => void;
  result?: SnapshotResult;
}

/** ListrProgress shows a live listr2 task list on a terminal: one task per snapshot, its title the current phase. */
export class ListrProgress implements Progress {
  private readonly entries = new Map<string, Entry>();
  private running: Promise<unknown> | undefined;

  start(ids: string[]): void {
    for (const id of ids) this.entries.set(id, { title: `${terminalSafe(id)}: queued` });
    const list = new Listr(
      ids.map((id) => ({
        title: `${terminalSafe(id)}: queued`,
        task: (_ctx: unknown, task: ListrTaskWrapper<unknown, any, any>) =>
          new Promise<void>((resolve, reject) => {
            const e = this.entries.get(id)!;
            Object.assign(e, { task, resolve, reject });
            task.title = e.title;
            if (e.result) this.finish(e);
          }),
      })),
      {
        concurrent: true,
        exitOnError: false,
        renderer: 'default',
        // Progress goes to stderr so that --json keeps stdout machine-readable.
        rendererOptions: { collapseErrors: false, logger: new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) }) },
      },
    );
    this.running = list.run().catch(() => undefined);
  }

  private setTitle(id: string, title: string) {
    const e = this.entries.get(id);
    if (!e) return;
    title = terminalSafe(title);
    e.title = title;
    if (e.task) e.task.title = title;
  }

  private finish(e: Entry) {
    const r = e.result!;
    const line = verdictLine(r, false);
    if (e.task) e.task.title = line;
    if (r.policy.pass) e.resolve?.();
    else e.reject?.(new Error(line));
  }

  phaseStart(id: string, phase: string): void {
    this.setTitle(id, `${id}: ${phase}`);
  }

  snapshotDone(r: SnapshotResult): void {
    const e = this.entries.get(r.id);
    if (!e) return;
    e.result = r;
    if (e.task) this.finish(e);
  }

  message(text: string): void {
    process.stderr.write(`${terminalSafe(text)}\n`);
  }

  async stop(): Promise<void> {
    await this.running;
  }
}

/** createProgress builds the display for a mode. */
export function createProgress(mode: ProgressMode): Progress {
  return mode === 'tty' ? new ListrProgress() : mode === 'plain' ? new LineProgress() : new SilentProgress();
}
