import { statSync } from 'node:fs';
import type { Config, LocalProviderConfig } from '../../config/types.js';
import type { ProviderPlan, SnapshotInfo } from '../../provider.js';

/** localPlan says what a local run would create: sparse copies (the space of those verified at once), loop devices, and VMs when boot tests are on. */
export function localPlan(cfg: LocalProviderConfig, selected: SnapshotInfo[], run: Pick<Config, 'concurrency' | 'boot'>): ProviderPlan {
  const allocated = selected.map((s) => statSync(s.source).blocks * 512).sort((a, b) => b - a);
  const atOnce = allocated.slice(0, run.concurrency).reduce((n, b) => n + b, 0);
  return {
    creates: [
      { kind: 'scratch-copy', count: selected.length, detail: `sparse copies in ${cfg.scratchDir}, ${run.concurrency} at a time`, bytes: atOnce },
      { kind: 'loop-device', count: selected.length, detail: `one per copy, ${run.concurrency} at a time` },
      ...(run.boot.enabled
        ? [{ kind: 'vm' as const, count: selected.length, detail: `at most: a QEMU VM per snapshot holding a root filesystem, booted through a qcow2 overlay, ${run.boot.maxConcurrent} at a time, ${run.boot.memoryMiB} MiB each, up to ${Math.round(run.boot.timeoutMs / 1000)} s` }]
        : []),
    ],
    estimate: { usd: 0, assumptions: ['local: no cloud cost; the scratch directory needs the used bytes of the copies verified at once'] },
  };
}
