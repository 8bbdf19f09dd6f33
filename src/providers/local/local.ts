import { constants, accessSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, InfraError, SnapshotUnusableError } from '../../errors.js';
import type { Config, LocalProviderConfig } from '../../config/types.js';
import { LocalShell } from '../../shells/local.js';
import type { Shell } from '../../shells/shell.js';
import { execFile } from '../../util/exec.js';
import { compiledSchema, describeSchemaErrors } from '../../util/schema.js';
import type { Ledger } from '../../ledger/ledger.js';
import type { BootRequest, AttachedVolume, Provider, ProviderPlan, RestoredVolume, SnapshotInfo, StageContext } from '../../provider.js';
import { localPlan } from './plan.js';
import { bootQemu } from '../../boot/qemu.js';
import type { BootOutcome } from '../../boot/types.js';
import { processRecord } from '../../ledger/resources.js';

const IMAGE_EXTENSIONS = ['.img', '.raw'];

/** REQUIRED_TOOLS are what the local provider itself runs (checks declare their own). */
const REQUIRED_TOOLS: [string, string][] = [
  ['losetup', 'util-linux'],
  ['partx', 'util-linux'],
  ['blkid', 'util-linux'],
  ['cp', 'coreutils'],
];

interface Sidecar {
  id?: string;
  volumeId?: string;
  startTime?: string;
  deviceName?: string;
  set?: string;
  tags?: Record<string, string>;
}

/** safeName turns a snapshot id into a file-name component. */
function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** readSidecar loads and validates NAME.json beside an image, naming the file and field on error. */
function readSidecar(file: string): Sidecar {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError('', `${file}: not valid JSON: ${(e as Error).message}`);
  }
  const validate = compiledSchema('sidecar.schema.json');
  if (!validate(raw)) {
    const issues = describeSchemaErrors(validate.errors);
    throw new ConfigError(issues[0]!.path, `in sidecar ${file}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
  return raw as Sidecar;
}

/**
 * LocalProvider verifies raw disk images on this machine: restore is a sparse copy-on-write copy into
 * a scratch directory, attach is losetup + partx, and the helper is this machine.
 */
export class LocalProvider implements Provider {
  readonly type = 'local';
  private readonly shellImpl = new LocalShell();

  constructor(
    private readonly cfg: LocalProviderConfig,
    private readonly runId: string,
  ) {}

  describe(): string {
    return `local catalog ${this.cfg.catalog}`;
  }

  shell(): Shell {
    return this.shellImpl;
  }

  /** plan says what a run over the selected images would create on this machine (no cost). */
  plan(selected: SnapshotInfo[], run: Pick<Config, 'concurrency' | 'boot'>): ProviderPlan {
    return localPlan(this.cfg, selected, run);
  }

  /** runScratch is this run's directory under the scratch root. */
  get runScratch(): string {
    return path.join(this.cfg.scratchDir, this.runId);
  }

  async preflight(): Promise<void> {
    if (process.getuid?.() !== 0) {
      throw new InfraError('not-root', 'the local provider needs root: it attaches loop devices and replays journals on scratch copies', {
        remedy: 'run snapdrill with sudo',
      });
    }
    const missing: string[] = [];
    for (const [tool, pkg] of REQUIRED_TOOLS) {
      const r = await execFile('bash', ['-c', `command -v ${tool}`]);
      if (r.exitCode !== 0) missing.push(`${tool} (${pkg})`);
    }
    if (missing.length) throw new InfraError('tools-missing', `missing on this machine: ${missing.join(', ')}`, { remedy: 'apt-get install util-linux coreutils' });
    try {
      // Only root reaches the restored copies: sandboxed tools see their own directory, bound in by root.
      mkdirSync(this.cfg.scratchDir, { recursive: true, mode: 0o700 });
      accessSync(this.cfg.scratchDir, constants.W_OK);
    } catch (e) {
      throw new InfraError('scratch-unwritable', `scratch directory ${this.cfg.scratchDir} is not writable: ${(e as Error).message}`, {
        remedy: 'set provider.scratchDir to a writable directory with room for the restored copies',
      });
    }
  }

  async start(ledger: Ledger): Promise<void> {
    ledger.acquire('run', { kind: 'scratch-dir', path: this.runScratch });
    // 0700: no other local user reaches a restored copy, an engine's socket or a check's scratch files.
    mkdirSync(this.runScratch, { recursive: true, mode: 0o700 });
  }

  async listSnapshots(): Promise<SnapshotInfo[]> {
    const dir = this.cfg.catalog;
    let entries: string[];
    try {
      if (!statSync(dir).isDirectory()) throw new Error('not a directory');
      entries = readdirSync(dir).sort();
    } catch (e) {
      throw new ConfigError('/provider/catalog', `cannot read catalog ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const out: SnapshotInfo[] = [];
    const byId = new Map<string, string>();
    for (const name of entries) {
      const ext = path.extname(name);
      if (!IMAGE_EXTENSIONS.includes(ext)) continue;
      const file = path.join(dir, name);
      const st = statSync(file);
      if (!st.isFile()) continue;
      const base = name.slice(0, -ext.length);
      const sidecarFile = path.join(dir, `${base}.json`);
      const sc = existsSync(sidecarFile) ? readSidecar(sidecarFile) : {};
      const id = sc.id ?? base;
      const other = byId.get(id);
      if (other) throw new ConfigError('', `snapshot id ${id} is used by both ${other} and ${file}`);
      byId.set(id, file);
      const info: SnapshotInfo = {
        id,
        source: file,
        tags: sc.tags ?? {},
        sizeBytes: st.size,
        startTime: sc.startTime ?? st.mtime.toISOString(),
      };
      if (sc.volumeId) info.volumeId = sc.volumeId;
      if (sc.deviceName) info.deviceName = sc.deviceName;
      if (sc.set) info.set = sc.set;
      out.push(info);
    }
    return out;
  }

  async restore(snapshot: SnapshotInfo, ctx: StageContext): Promise<RestoredVolume> {
    const st = statSync(snapshot.source);
    if (st.size === 0) throw new SnapshotUnusableError('image-empty', `image ${snapshot.source} is empty (0 bytes)`, 'the snapshot holds no data: check how it was exported');
    if (st.size % 512 !== 0) {
      throw new SnapshotUnusableError('image-size', `image ${snapshot.source} is ${st.size} bytes, not a whole number of 512-byte sectors`, 'the image is truncated or not a raw disk image');
    }
    const dir = path.join(this.runScratch, safeName(snapshot.id));
    // Recorded before it exists: a kill between here and mkdir leaves a record gc can act on safely.
    ctx.ledger.acquire(ctx.owner, { kind: 'scratch-dir', path: dir });
    mkdirSync(path.join(dir, 'mnt'), { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const copy = path.join(dir, 'disk.img');
    // Copy-on-write where the filesystem can (reflink), otherwise a sparse copy: cost follows the bytes in use.
    const r = await execFile('cp', ['--reflink=auto', '--sparse=always', snapshot.source, copy], { timeoutMs: ctx.timeoutMs, signal: ctx.signal });
    if (r.exitCode !== 0) {
      if (r.timedOut) throw new InfraError('restore-timeout', `copying ${snapshot.source} took longer than ${Math.round(ctx.timeoutMs / 1000)}s`, { remedy: 'raise timeouts.restore' });
      throw new InfraError('restore-failed', `copying ${snapshot.source} to ${copy} failed: ${r.stderr.trim()}`, { remedy: 'check free space in provider.scratchDir' });
    }
    chmodSync(copy, 0o600);
    const allocatedBytes = statSync(copy).blocks * 512;
    return { snapshot, handle: copy, scratch: path.join(dir, 'mnt'), allocatedBytes };
  }

  /** bootTest boots the restored copy under QEMU through a qcow2 overlay in the snapshot's scratch directory (removed with it). */
  async bootTest(req: BootRequest, ctx: StageContext): Promise<BootOutcome> {
    const o = req.options;
    return bootQemu({
      disk: req.restored.handle,
      extraDisks: req.dataRestored.map((d) => d.handle),
      workDir: path.join(path.dirname(req.restored.handle), 'boot'),
      mode: req.mode,
      ...(o.kernel ? { kernel: o.kernel } : {}),
      ...(o.initrd ? { initrd: o.initrd } : {}),
      ...(o.append ? { append: o.append } : {}),
      memoryMiB: o.memoryMiB,
      cpus: o.cpus,
      timeoutMs: o.timeoutMs,
      accel: o.accel,
      ssh: true,
      settleMs: 3000,
      signal: ctx.signal,
      onSpawn: (pid) => {
        // Spawned detached: QEMU leads its own process group.
        ctx.ledger.acquire(ctx.owner, processRecord(pid, `qemu boot test of ${req.snapshot.id}`, { group: true }));
      },
    });
  }

  async attach(volume: RestoredVolume, ctx: StageContext): Promise<AttachedVolume> {
    const loop = ctx.ledger.acquire(ctx.owner, { kind: 'loop', backingFile: volume.handle });
    const r = await execFile('losetup', ['--find', '--show', volume.handle], { timeoutMs: ctx.timeoutMs, signal: ctx.signal });
    const device = r.stdout.trim();
    if (r.exitCode !== 0 || !device.startsWith('/dev/')) {
      throw new InfraError('attach-failed', `losetup ${volume.handle}: ${r.stderr.trim() || `exit ${r.exitCode}`}`, {
        remedy: 'check that loop devices are available (losetup -f) and the loop module is loaded',
      });
    }
    loop.update({ kind: 'loop', backingFile: volume.handle, device });
    const warnings: string[] = [];
    const pt = await execFile('blkid', ['-p', '-o', 'value', '-s', 'PTTYPE', device], { timeoutMs: ctx.timeoutMs });
    const partitionTable = pt.stdout.trim() || undefined;
    if (partitionTable) {
      // This kernel does not parse partition tables on loop devices: partx adds the partitions.
      const px = await execFile('partx', ['-a', device], { timeoutMs: ctx.timeoutMs });
      if (px.exitCode !== 0) warnings.push(`partx -a ${device} exited ${px.exitCode}: ${px.stderr.trim()}`);
    }
    return { device, ...(partitionTable ? { partitionTable } : {}), warnings };
  }
}
