/**
 * The relay's on-disk buffer: one file per heartbeat body, named by its zero-padded sequence
 * number so a directory listing is the sending order. Bounded: past `max` files the oldest are
 * dropped and counted, so an outage of any length costs disk space once, and the monitor learns
 * how much history was lost.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomically } from './sequence.js';

export interface Buffered {
  readonly sequence: number;
  readonly body: string;
}

const NAME = /^(\d{16})\.json$/;

export class Outbox {
  private readonly dir: string;
  private readonly droppedPath: string;

  constructor(stateDir: string, private readonly max: number) {
    this.dir = join(stateDir, 'outbox');
    this.droppedPath = join(stateDir, 'dropped');
  }

  async add(sequence: number, body: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeAtomically(join(this.dir, `${String(sequence).padStart(16, '0')}.json`), body);
    const files = await this.files();
    const excess = files.length - this.max;
    if (excess <= 0) return;
    for (const name of files.slice(0, excess)) await rm(join(this.dir, name), { force: true });
    await writeAtomically(this.droppedPath, String((await this.dropped()) + excess));
  }

  /** Oldest first. */
  async pending(): Promise<Buffered[]> {
    const files = await this.files();
    return Promise.all(files.map(async (name) => ({ sequence: Number(NAME.exec(name)![1]), body: await readFile(join(this.dir, name), 'utf8') })));
  }

  async remove(sequence: number): Promise<void> {
    await rm(join(this.dir, `${String(sequence).padStart(16, '0')}.json`), { force: true });
  }

  async stats(): Promise<{ pending: number; dropped: number }> {
    return { pending: (await this.files()).length, dropped: await this.dropped() };
  }

  private async files(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((n) => NAME.test(n)).sort();
    } catch {
      return [];
    }
  }

  private async dropped(): Promise<number> {
    try {
      return Number((await readFile(this.droppedPath, 'utf8')).trim()) || 0;
    } catch {
      return 0;
    }
  }
}
