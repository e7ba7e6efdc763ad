/**
 * The relay as it runs next to Connect, in a process of its own: its settings from the
 * environment, 10 cycles against the loopback monitor the parent started, then its resident
 * memory and CPU time on stdout as JSON. `bare` instead: an idle Node process, the baseline.
 */
import { readEnvironment } from '../src/config/settings.js';
import { RelayAgent } from '../src/relay/agent.js';
import { parseRelaySettings } from '../src/relay/settings.js';

const CYCLES = 10;

if (process.argv[2] === 'bare') {
  // The same as node -e "setInterval(()=>{},1e3)", measured once it has settled.
  const idle = setInterval(() => undefined, 1e3);
  setTimeout(() => {
    clearInterval(idle);
    console.log(JSON.stringify({ rssBytes: process.memoryUsage().rss }));
  }, 1_000);
} else {
  const agent = new RelayAgent(parseRelaySettings(readEnvironment()), {});
  let accepted = 0;
  const cpu = process.cpuUsage();
  for (let i = 0; i < CYCLES; i++) {
    const report = await agent.cycle();
    if (report.outcome.kind === 'accepted') accepted++;
  }
  const used = process.cpuUsage(cpu);
  await agent.close();
  await new Promise((r) => setTimeout(r, 1_000)); // settle, as the bare baseline does
  console.log(JSON.stringify({ rssBytes: process.memoryUsage().rss, cpuMsPerCycle: (used.user + used.system) / 1000 / CYCLES, accepted, cycles: CYCLES }));
}
