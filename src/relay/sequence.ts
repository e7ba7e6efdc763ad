/**
 * The heartbeat sequence number, kept in a file so it survives restarts. The next number is
 * the larger of last + 1 and the current time in milliseconds: even if the state directory is
 * wiped (a reinstall), numbers keep growing and the monitor does not refuse them as replays.
 *
 * The monitor refuses numbers more than MAX_SEQUENCE_LEAD_MS ahead of its clock. When the
 * last number is already that far ahead of ours (the file was edited, or written while this
 * host's clock ran far fast), counting on from it would have every heartbeat refused until the
 * clock caught up: the numbers start again from the clock instead.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sequenceLimit } from '../heartbeat/verify.js';

export class SequenceFile {
  private readonly path: string;
  constructor(private readonly dir: string) {
    this.path = join(dir, 'sequence');
  }

  async next(now: Date): Promise<number> {
    const last = await this.read();
    const next = last + 1 > sequenceLimit(now) ? now.getTime() : Math.max(last + 1, now.getTime());
    await mkdir(this.dir, { recursive: true });
    await writeAtomically(this.path, String(next));
    return next;
  }

  private async read(): Promise<number> {
    try {
      const n = Number((await readFile(this.path, 'utf8')).trim());
      return Number.isSafeInteger(n) && n >= 0 ? n : 0;
    } catch {
      return 0;
    }
  }
}

/** Write then rename: a crash leaves the old file or the new one, never half of one. */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, path);
}
