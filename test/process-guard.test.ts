import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** A real Node process with the guard installed, which then throws where nothing can catch it. */
function runGuarded(): Promise<{ code: number | null; stdout: string }> {
  const script = `
    const { guardProcess } = await import(${JSON.stringify(new URL('../dist/src/local/process-guard.js', import.meta.url).href)});
    const guard = guardProcess((line) => console.log(line));
    setTimeout(() => { throw new TypeError('Invalid URL'); }, 1);
    setTimeout(() => Promise.reject(new Error('a stray promise')), 5);
    setTimeout(() => { console.log('still running, caught ' + guard.caught()); }, 50);
  `;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], (err, stdout) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout }));
  });
}

describe('the process guard of serve', () => {
  it('logs and counts an uncaught exception and an unhandled rejection, and the process goes on', async () => {
    const { code, stdout } = await runGuarded();
    expect(stdout.trim().split('\n')).toEqual([
      'uncaught exception (1 since start, the monitor goes on): TypeError: Invalid URL',
      'unhandled rejection (2 since start, the monitor goes on): Error: a stray promise',
      'still running, caught 2',
    ]);
    expect(code).toBe(0);
  });
});
