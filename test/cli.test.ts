/** The built `writeback-monitor` command, run as a real process (npm test builds first). */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCa } from './support/certs.js';
import { respond, startHttps, type Running } from './support/servers.js';

const CLI = join(import.meta.dirname, '..', 'dist', 'src', 'cli.js');
const servers: Running[] = [];
let caFile: string;
let workDir: string;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: workDir, // no local.settings.json here unless a test writes one
      env: { PATH: process.env.PATH ?? '', NODE_EXTRA_CA_CERTS: caFile, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test builds before running vitest)`);
  workDir = mkdtempSync(join(tmpdir(), 'wbmon-cli-'));
  const ca = await createTestCa();
  caFile = join(workDir, 'ca.pem');
  writeFileSync(caFile, ca.cert);
  const cert = await ca.issue({ names: ['localhost'] });
  servers.push(await startHttps(cert), await startHttps(cert, respond(503)));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('writeback-monitor probe', () => {
  it('exits 0 and prints per-phase JSON when every target is up', async () => {
    const { code, stdout, stderr } = await cli(['probe', '--target', servers[0]!.url, '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const results = JSON.parse(stdout);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ target: servers[0]!.url, ok: true, http: { status: 200 }, proxy: null });
    expect(Object.keys(results[0].timings).sort()).toEqual(['dns', 'tcp', 'tls', 'total', 'ttfb']);
  });

  it('exits 1 and prints one row per target when any target is down', async () => {
    const { code, stdout } = await cli(['probe', '--target', servers[0]!.url, '--target', servers[1]!.url]);
    expect(code).toBe(1);
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^TARGET\s+RESULT\s+DNS\s+TCP\s+PROXY\s+TLS\s+TTFB\s+TOTAL\s+DETAIL$/);
    expect(lines[1]).toMatch(new RegExp(`^${servers[0]!.url}\\s+up\\s+\\d+\\s+\\d+\\s+-\\s+\\d+\\s+\\d+\\s+\\d+\\s+HTTP 200; TLSv1.3, cert 89 days left$`));
    expect(lines[2]).toContain('DOWN');
    expect(lines[2]).toContain('http_status (http): HTTP 503; expected an HTTP status below 500');
  });

  it('exits 2 with one line per problem, naming flags and settings, and no stack trace', async () => {
    const { code, stdout, stderr } = await cli(['probe', '--target', 'ftp://x/', '--timeout', '5'], {
      WBMON_FAILURE_THRESHOLD: 'many',
      WBMON_PROBE_SCHEDULE: 'every minute',
    });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toEqual([
      '--target: "ftp://x/" uses scheme ftp; only https and http can be probed',
      'WBMON_PROBE_SCHEDULE: "every minute" is not a valid NCRONTAB schedule: expected 6 fields (second minute hour day month day-of-week), got 2',
      'WBMON_FAILURE_THRESHOLD: "many" must be a whole number from 1 to 100',
      '--timeout: "5" must be a whole number from 100 to 120000',
    ]);
  });

  it('exits 2 on an unknown flag or command', async () => {
    const flag = await cli(['probe', '--verbose']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe("Unknown option '--verbose'\n");
    const command = await cli(['frobnicate']);
    expect(command.code).toBe(2);
    expect(command.stderr.split('\n')[0]).toBe('unknown command "frobnicate"');
  });
});

describe('writeback-monitor serve', () => {
  it('prints its base URL, answers /api/health, and stops cleanly with exit 0 on SIGTERM', async () => {
    const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--port', '0'], {
      cwd: workDir,
      env: { PATH: process.env.PATH ?? '', WBMON_TARGETS: servers[0]!.url, NODE_EXTRA_CA_CERTS: caFile },
    });
    let out = '';
    const base = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d;
        const m = /serving at (http:\/\/127\.0\.0\.1:\d+)\/api/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', () => reject(new Error(`serve exited early: ${out}`)));
    });
    const res = await fetch(`${base}/api/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // A cycle in flight finishes before the store closes, so its line may come after SIGTERM.
    expect(out).toMatch(/ SIGTERM: stopping\n(.*\n)?.* stopped\n$/);
  });

  it('refuses a bad port and a bad schedule together with exit 2', async () => {
    const { code, stderr } = await cli(['serve', '--port', '70000'], { WBMON_PROBE_SCHEDULE: '0 0 25 * * *' });
    expect(code).toBe(2);
    expect(stderr.trimEnd().split('\n')).toEqual([
      '--port: "70000" must be a port number from 0 to 65535',
      'WBMON_PROBE_SCHEDULE: "0 0 25 * * *" is not a valid NCRONTAB schedule: hour: 25 is out of range 0-23',
    ]);
  });

  it('refuses a one-character WBMON_WEBHOOK_SECRET with exit 2 and one line naming it', async () => {
    const { code, stderr } = await cli(['serve', '--port', '0'], { WBMON_WEBHOOK_URL: 'https://hooks.example.com/wbmon', WBMON_WEBHOOK_SECRET: 'k' });
    expect(code).toBe(2);
    expect(stderr).toBe('WBMON_WEBHOOK_SECRET: must be at least 32 characters (e.g. openssl rand -hex 32)\n');
  });
});

describe('writeback-monitor relay --once', () => {
  it('exits 0 when the monitor accepts the heartbeat, 1 when it refuses it, 2 on bad settings', async () => {
    const { RELAYS_JSON, SECRET_A, SECRET_B } = await import('./support/heartbeats.js');
    const monitorEnv = { WBMON_TARGETS: servers[0]!.url, WBMON_RELAYS: RELAYS_JSON, NODE_EXTRA_CA_CERTS: caFile };
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { cwd: workDir, env: { PATH: process.env.PATH ?? '', ...monitorEnv } });
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d;
          const m = /serving at (http:\/\/127\.0\.0\.1:\d+)\/api/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', () => reject(new Error(`serve exited early: ${out}`)));
      });
      const relayEnv = {
        WBMON_MONITOR_URL: base,
        WBMON_RELAY_ID: 'relay-a',
        WBMON_RELAY_TARGETS: servers[0]!.url,
        WBMON_RELAY_STATE_DIR: join(workDir, 'relay-state'),
      };
      const ok = await cli(['relay', '--once'], { ...relayEnv, WBMON_RELAY_SECRET: SECRET_A });
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/relay relay-a: heartbeat \d+ accepted \(HTTP 202\); 1\/1 targets up; delivered 1, buffered 0, dropped 0\n$/);

      const refused = await cli(['relay', '--once'], { ...relayEnv, WBMON_RELAY_SECRET: SECRET_B, WBMON_RELAY_STATE_DIR: join(workDir, 'relay-b-state') });
      expect(refused.code).toBe(1);
      expect(refused.stdout).toContain('not accepted (unauthorized, HTTP 401): unauthorized: unknown relay, bad signature, or timestamp outside 300 s of the server clock');
      expect(refused.stdout).not.toContain(SECRET_B);

      const hostile = await cli(['relay', '--once'], { ...relayEnv, WBMON_RELAY_SECRET: SECRET_A, WBMON_DC_HOST: 'dc02; Start-Process calc;\r\necho' });
      expect(hostile.code).toBe(2);
      expect(hostile.stderr).toBe(
        'WBMON_DC_HOST: "dc02; Start-Process calc;\\r\\necho" is not a host name: it must be a DNS name or an IP address (letters, digits, ".", "-", "_"; or an IPv6 literal)\n',
      );

      const bad = await cli(['relay', '--once'], { WBMON_MONITOR_URL: 'ftp://x' });
      expect(bad.code).toBe(2);
      expect(bad.stderr.split('\n')[0]).toBe('WBMON_MONITOR_URL: must be https (plain http only to a loopback host)');
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('writeback-monitor keepalive', () => {
  it('prints one row per idle length and exits 0 when all survive, 1 when one dies', async () => {
    const ok = await cli(['keepalive', '--target', servers[0]!.url, '--idle', '1']);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toBe('idle 1 s: survived (server announced keep-alive 5 s)\n');
    expect(ok.code).toBe(0);
    // Node's server closes idle connections after its announced 5 s: the server is blamed.
    const died = await cli(['keepalive', '--target', servers[0]!.url, '--idle', '8,1']);
    expect(died.code).toBe(1);
    const [first, second] = died.stdout.trimEnd().split('\n');
    expect(first).toBe('idle 1 s: survived (server announced keep-alive 5 s)');
    expect(second).toMatch(/^idle 8 s: DIED fin after [0-9.]+ s of idle: the server closed it on its own announced limit \(server announced keep-alive 5 s\)$/);
  }, 30_000);

  it('exits 2 naming each bad flag', async () => {
    const { code, stderr } = await cli(['keepalive', '--idle', '0,abc']);
    expect(code).toBe(2);
    expect(stderr.trimEnd().split('\n')).toEqual([
      '--target: required, the URL to hold an idle connection to',
      '--idle: "0,abc" must be idle lengths in whole seconds from 1 to 3600, comma-separated',
    ]);
  });
});

describe('writeback-monitor serve on a port already in use', () => {
  it('says so in one line and exits instead of hanging', async () => {
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const { code, stderr } = await cli(['serve', '--port', String(port)], { WBMON_TARGETS: servers[0]!.url });
      expect(code).toBe(1);
      expect(stderr).toBe(`writeback-monitor serve: listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`);
    } finally {
      taken.close();
    }
  });
});
