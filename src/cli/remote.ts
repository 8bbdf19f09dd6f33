import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { contentTypeOf, createRunObjects, isS3Url, joinS3, type RunObjects } from '../providers/factory.js';

/**
 * Remote is where a command in a workflow container reads its config and writes its reports: s3:// locations are
 * staged in a private temporary directory (removed by done()), paths are used as they are.
 */
export class Remote {
  private tmp?: string;
  private objects?: RunObjects;

  constructor(private readonly make: () => RunObjects = createRunObjects) {}

  private get s3(): RunObjects {
    this.objects ??= this.make();
    return this.objects;
  }

  /** scratch is the command's private temporary directory (0700), made on first use. */
  scratch(): string {
    this.tmp ??= mkdtempSync(path.join(os.tmpdir(), 'snapdrill-remote-'));
    return this.tmp;
  }

  /** configFile is a local copy of -c s3://… (paths in it are then relative to the working directory), or the path given. */
  async configFile(location: string | undefined): Promise<string | undefined> {
    if (location === undefined || !isS3Url(location)) return location;
    const file = path.join(this.scratch(), `config${path.extname(location) || '.yaml'}`);
    writeFileSync(file, await this.s3.getText(location, '--config'), { mode: 0o600 });
    return file;
  }

  /** outDir is the local report directory of --out: a staging directory for s3://…, else the path given. */
  outDir(out: string | undefined): string | undefined {
    return out !== undefined && isS3Url(out) ? path.join(this.scratch(), 'out') : out;
  }

  /** readText reads a file or an s3:// object as text. */
  async readText(location: string, what: string): Promise<string> {
    if (isS3Url(location)) return this.s3.getText(location, what);
    return readFileSync(location, 'utf8');
  }

  /** writeText writes a file or an s3:// object. */
  async writeText(location: string, text: string, contentType = 'application/json'): Promise<void> {
    if (isS3Url(location)) await this.s3.putText(location, text, contentType);
    else writeFileSync(location, text);
  }

  /** runDir is a local copy of s3://…/RUNID (every object under it), or the directory given. */
  async runDir(location: string): Promise<string> {
    if (!isS3Url(location)) return location;
    const runId = location.replace(/\/+$/, '').split('/').pop()!;
    const dir = path.join(this.scratch(), 'runs', runId);
    await this.s3.download(location, dir);
    return dir;
  }

  /** publish uploads a local directory to `${out}/${rel}` when --out is s3://…; returns the keys written (none for a path). */
  async publish(out: string | undefined, localDir: string, rel: string): Promise<string[]> {
    if (out === undefined || !isS3Url(out)) return [];
    return this.s3.upload(localDir, joinS3(out, rel));
  }

  /** publishFiles uploads some files of a local directory to a prefix (merge: the merged reports, not the shards again). */
  async publishFiles(prefix: string, files: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const f of files) {
      const url = joinS3(prefix, path.basename(f));
      await this.s3.putText(url, readFileSync(f), contentTypeOf(f));
      out.push(url);
    }
    return out;
  }

  /** done removes the staging directory. */
  done(): void {
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
  }
}

export { isS3Url, joinS3 };
