/**
 * `writeback-monitor roundtrip login | test [--data DIR]`: the administrator's side of the round
 * trip (docs/roundtrip.md). Both use the state `serve --data DIR` uses when given --data, else
 * AzureWebJobsStorage, so what `test` records is the check serve and the Functions show.
 */
import type { Dispatcher } from 'undici';
import type { Settings } from '../config/settings.js';
import { graphToken } from '../graph/token.js';
import { runRoundtrip, settleRoundtrip, type RoundtripOutcome } from '../monitor/roundtrip-cycle.js';
import { summarizeRoundtrip } from '../monitor/summary.js';
import { deviceCodeLogin } from '../roundtrip/auth.js';
import { roundtripWiring } from '../roundtrip/wiring.js';
import { openDataDirStore } from '../store/data-dir.js';
import { openTableStore, storageTarget } from '../store/open.js';
import type { Store } from '../store/store.js';
import { escapeControls } from '../text/safe-text.js';
import { parse, settingsWith, UsageError } from './common.js';

export interface RoundtripCommandIo {
  readonly out: (line: string) => void;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  /** For tests: the HTTP dispatcher of sign-in (a loopback authority's CA). */
  readonly dispatcher?: Dispatcher;
  /** How often `test` looks for a relay's confirmation while it waits. */
  readonly confirmPollMs?: number;
}

const realIo: RoundtripCommandIo = {
  out: (line) => process.stdout.write(`${escapeControls(line)}\n`),
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export async function roundtripCommand(args: string[], io: RoundtripCommandIo = realIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'login' && sub !== 'test') throw new UsageError([sub ? `roundtrip: unknown subcommand "${sub}"; say "roundtrip login" or "roundtrip test"` : 'roundtrip: say "roundtrip login" or "roundtrip test"']);
  const values = parse(rest, { data: { type: 'string' } });
  const settings = settingsWith({}, {});
  const rt = settings.roundtrip;
  if (!rt) throw new UsageError(['WBMON_ROUNDTRIP_USER: not set, so the round trip is off: set it to the test user\'s object id (docs/roundtrip.md)']);
  // Signing in into Key Vault needs no state store: an administrator's machine need not reach it.
  const needsStore = sub === 'test' || rt.tokenKey !== undefined;
  const store = needsStore ? await openStore(settings, values.data as string | undefined) : undefined;
  try {
    const wiring = roundtripWiring(settings, rt, store, io.dispatcher ? { dispatcher: io.dispatcher } : {});
    if (sub === 'login' || !store) {
      const { username } = await deviceCodeLogin(wiring.config, wiring.vault, { onPrompt: (p) => io.out(p.message) });
      io.out(`signed in as ${username}; the refresh token is stored in ${wiring.vault.where}. The round trip runs on WBMON_ROUNDTRIP_SCHEDULE "${rt.schedule.expression}"; try one now with: writeback-monitor roundtrip test`);
      return 0;
    }
    const runIo = { appToken: graphToken(settings.tenant.graphUrl, settings.tenant.graphToken), userToken: wiring.userToken, now: io.now, sleep: io.sleep };
    let outcome = await runRoundtrip(settings, store, runIo);
    io.out(summarizeRoundtrip(outcome));
    if (outcome.kind === 'pending') {
      // The relays read Connect's event log once a heartbeat: wait for one to report the reset.
      const until = Date.parse(outcome.finishedAt) + outcome.windowMinutes * 60_000;
      while (outcome.kind === 'pending' && io.now().getTime() <= until + 60_000) {
        await io.sleep(io.confirmPollMs ?? 15_000);
        outcome = (await settleRoundtrip(settings, store, runIo)) ?? outcome;
      }
      if (outcome.kind !== 'pending') io.out(summarizeRoundtrip(outcome));
    }
    return writtenBack(outcome) ? 0 : 1;
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'RoundtripReauthError' || name === 'RoundtripAuthError' || name === 'TokenVaultError') {
      io.out(`roundtrip ${sub}: ${(err as Error).message}`);
      return 1;
    }
    throw err;
  } finally {
    await store?.close();
  }
}

/** The cloud said succeeded and on-prem AD did not refuse it. */
function writtenBack(outcome: RoundtripOutcome): boolean {
  if (outcome.kind === 'pending') return true;
  if (outcome.kind !== 'recorded' || !outcome.result.ok) return false;
  return !(outcome.result.warnings ?? []).some((w) => w.code === 'roundtrip_ad_policy');
}

async function openStore(settings: Settings, dataDir: string | undefined): Promise<Store> {
  let store: Store;
  if (dataDir !== undefined) {
    store = openDataDirStore(dataDir).store;
  } else {
    const target = storageTarget(settings.env);
    if (!target) {
      throw new UsageError(['AzureWebJobsStorage: not set: give --data DIR (the folder serve --data uses) or the connection string of the monitor\'s storage account']);
    }
    // UseDevelopmentStorage=true is the Azurite of a running `serve` (its fixed port).
    store = openTableStore(target);
  }
  await store.ready();
  return store;
}
