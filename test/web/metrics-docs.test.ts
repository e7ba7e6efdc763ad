/**
 * The Prometheus configuration docs/metrics.md gives is one Prometheus accepts: every `yaml`
 * block that is a whole scrape or rule configuration goes through `promtool check config` /
 * `check rules` (Debian package prometheus).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const promtool = spawnSync('promtool', ['--version']).status === 0;
const doc = readFileSync(join(root, 'docs', 'metrics.md'), 'utf8');
const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('docs/metrics.md', () => {
  it('has two scrape configurations and one rule file', () => {
    expect(blocks.filter((b) => b.startsWith('scrape_configs:'))).toHaveLength(2);
    expect(blocks.filter((b) => b.startsWith('groups:'))).toHaveLength(1);
  });

  it.skipIf(!promtool)(promtool ? 'gives configurations promtool accepts' : 'gives configurations promtool accepts (SKIPPED: promtool not installed; apt-get install prometheus)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wbmon-promdocs-'));
    for (const [i, block] of blocks.entries()) {
      const file = join(dir, `${i}.yml`);
      writeFileSync(file, block);
      const kind = block.startsWith('groups:') ? 'rules' : block.startsWith('scrape_configs:') ? 'config' : undefined;
      if (!kind) continue; // a fragment (the http_headers form, not for this Prometheus)
      const run = spawnSync('promtool', ['check', kind, file], { encoding: 'utf8' });
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    }
  });
});
