/**
 * `writeback-monitor roundtrip test` and its exits: 0 written back, 1 not (a failure, a refused
 * user, too soon after the last run), 2 bad settings, against the loopback authority and Graph,
 * with the state of `--data DIR` as serve keeps it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { roundtripCommand, type RoundtripCommandIo } from '../../src/cli/roundtrip-command.js';
import { createLoopbackTls, startLoopbackAuthority, type LoopbackAuthority, type LoopbackTls } from '../support/loopback-authority.js';
import { roundtripEnv, startRoundtripGraph, USER_ID, type RoundtripGraph } from './roundtrip-graph.js';

let tls: LoopbackTls;
let authority: LoopbackAuthority;
let graph: RoundtripGraph;
let dir: string;
let offset = 0;
let out: string[] = [];
const io = (): RoundtripCommandIo => ({ out: (l) => out.push(l), now: () => new Date(Date.now() + offset), sleep: (ms) => new Promise((r) => setTimeout(r, ms)), dispatcher: tls.agent });

beforeAll(async () => {
  tls = await createLoopbackTls();
  authority = await startLoopbackAuthority({ tls, interval: 0 });
  graph = await startRoundtripGraph({ reset: [{ status: 202, retryAfter: '0' }], pollRetryAfter: '0' });
  dir = await mkdtemp(join(tmpdir(), 'wbmon-rt-cli-'));
});

afterAll(async () => {
  await graph?.close();
  await authority?.close();
  await tls?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.unstubAllEnvs();
  out = [];
});

function configure(extra: Record<string, string> = {}): void {
  // The timers' and targets' settings are serve's; the CLI reads what it needs.
  const env = roundtripEnv(graph, authority, Buffer.alloc(32, 0x17).toString('base64'), extra);
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
}

describe('writeback-monitor roundtrip test', () => {
  it('says to sign in first, and exits 1, before any sign-in is stored', async () => {
    configure();
    expect(await roundtripCommand(['test', '--data', dir], io())).toBe(1);
    expect(out).toEqual([`roundtrip:${USER_ID}: NOT WRITTEN BACK: roundtrip_reauth: the round-trip sign-in cannot be used (no sign-in is stored in the state store, encrypted with WBMON_ROUNDTRIP_TOKEN_KEY): run writeback-monitor roundtrip login again`]);
    expect(graph.passwords).toHaveLength(0);
  });

  it('prints the verdict with the operation and exits 0 once signed in', async () => {
    configure();
    expect(await roundtripCommand(['login', '--data', dir], io())).toBe(0);
    offset += 16 * 60_000;
    expect(await roundtripCommand(['test', '--data', dir], io())).toBe(0);
    expect(out.at(-1)).toMatch(
      new RegExp(`^roundtrip:${USER_ID}: written back \\(cloud\\): the reset of wbmon-roundtrip@contoso\\.com succeeded in the cloud at \\S+ \\(operation a3f2e1d0-0000-4000-8000-00000000c0de\\); no relay reads Connect's event log, so the cloud's word is the only confirmation$`),
    );
  });

  it('refuses to run again within 15 minutes, and exits 1', async () => {
    configure();
    const before = graph.passwords.length;
    offset += 5 * 60_000;
    expect(await roundtripCommand(['test', '--data', dir], io())).toBe(1);
    expect(out).toEqual([expect.stringMatching(/^round trip: not run: the last round trip began at \S+; the next may begin at \S+ \(never more often than every 15 minutes, whatever the schedule says\)$/)]);
    expect(graph.passwords).toHaveLength(before);
  });

  it('exits 1 with the quoted reason when the operation fails', async () => {
    configure();
    graph.scenario.operation = [{ failed: 'Password writeback is not enabled for this tenant.' }];
    graph.restart();
    offset += 16 * 60_000;
    expect(await roundtripCommand(['test', '--data', dir], io())).toBe(1);
    expect(out.at(-1)).toBe(`roundtrip:${USER_ID}: NOT WRITTEN BACK: roundtrip_failed: the password reset failed: "Password writeback is not enabled for this tenant." (operation a3f2e1d0-0000-4000-8000-00000000c0de)`);
    delete graph.scenario.operation;
  });

  it('exits 2 with one line per problem when the round trip is off or half configured', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      vi.stubEnv('WBMON_ROUNDTRIP_USER', '');
      expect(await main(['roundtrip', 'test', '--data', dir])).toBe(2);
      vi.stubEnv('WBMON_ROUNDTRIP_USER', USER_ID);
      vi.stubEnv('WBMON_ROUNDTRIP_CLIENT_ID', '');
      vi.stubEnv('WBMON_TENANT_ID', '');
      vi.stubEnv('WBMON_ROUNDTRIP_TOKEN_KEY', '');
      vi.stubEnv('WBMON_KEY_VAULT_URL', '');
      expect(await main(['roundtrip', 'login'])).toBe(2);
      expect(await main(['roundtrip', 'sideways'])).toBe(2);
      const lines = stderr.mock.calls.map((c) => String(c[0])).join('').trimEnd().split('\n');
      expect(lines).toEqual([
        "WBMON_ROUNDTRIP_USER: not set, so the round trip is off: set it to the test user's object id (docs/roundtrip.md)",
        'WBMON_ROUNDTRIP_CLIENT_ID: required when WBMON_ROUNDTRIP_USER is set: the public client app registration the round trip signs in with (docs/roundtrip.md)',
        'WBMON_TENANT_ID: required when WBMON_ROUNDTRIP_USER is set: the tenant the test user is in',
        'WBMON_ROUNDTRIP_TOKEN_KEY: required when WBMON_ROUNDTRIP_USER is set and WBMON_KEY_VAULT_URL is not: a base64 32-byte key that encrypts the stored refresh token (for example the output of openssl rand -base64 32)',
        'roundtrip: unknown subcommand "sideways"; say "roundtrip login" or "roundtrip test"',
      ]);
    } finally {
      stderr.mockRestore();
    }
  });
});
