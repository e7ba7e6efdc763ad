/** `writeback-monitor keepalive --target URL --idle S[,S...]`: the idle-keepalive test alone. */
import { keepaliveTest, type KeepaliveResult } from '../probes/keepalive.js';
import { proxyFor, proxyFromEnvironment } from '../probes/proxy.js';
import type { ProbeSettings } from '../monitor/probe-cycle.js';

export function keepaliveRow(r: KeepaliveResult): string {
  const server = r.serverKeepAliveSeconds === null ? 'server announced no keep-alive limit' : `server announced keep-alive ${r.serverKeepAliveSeconds} s`;
  if (r.failure) return `idle ${r.idleSeconds} s: FAILED before idling: ${r.failure.code} (${r.failure.phase}): ${r.failure.message}`;
  if (r.survived) return `idle ${r.idleSeconds} s: survived (${server})`;
  const d = r.died!;
  const when = d.during === 'idle' ? `after ${d.afterSeconds} s of idle` : `on the request after ${d.afterSeconds} s of idle`;
  const who = r.blame === 'server' ? 'the server closed it on its own announced limit' : 'something between here and the server (firewall, proxy, NAT) killed it';
  return `idle ${r.idleSeconds} s: DIED ${d.how} ${when}: ${who} (${server})`;
}

export async function runKeepalive(
  target: string,
  idle: readonly number[],
  settings: ProbeSettings,
  out: NodeJS.WriteStream,
): Promise<number> {
  const proxy = proxyFor(new URL(target), proxyFromEnvironment(settings.env, settings.proxyUrl));
  const left = new Map(idle.map((s) => [s, s]));
  // A live countdown only where a person is watching; logs and pipes get the rows alone.
  const live = out.isTTY === true;
  const render = (): void => {
    out.write(`\r\x1b[2Kidle test running: ${[...left].map(([s, l]) => `${s} s: ${l} s left`).join(', ')}`);
  };
  if (live) render();
  const results = await keepaliveTest(target, idle, {
    timeoutMs: settings.probeTimeoutMs,
    proxy,
    ...(live && {
      onTick: (s: number, l: number) => {
        left.set(s, l);
        render();
      },
    }),
  });
  if (live) out.write('\r\x1b[2K');
  out.write(`${results.map(keepaliveRow).join('\n')}\n`);
  return results.every((r) => r.survived) ? 0 : 1;
}
