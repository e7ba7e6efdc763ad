/**
 * The entry of the relay executable (`npm run package:relay` bundles it into
 * writeback-monitor-relay.exe): the relay side of the CLI only, `relay [--once]`, `probe`,
 * `keepalive`, `--version`, with the same exits. It must not import src/cli/main.ts, which
 * brings the Function App side (Azurite, Azure SDKs, OpenTelemetry) along. A CommonJS bundle
 * (what Node 22's single executable applications run), so no top-level await here.
 */
import { dispatch } from './cli/common.js';
import { RELAY_SIDE_COMMANDS, RELAY_SIDE_USAGE } from './cli/relay-side.js';

const USAGE = `usage: writeback-monitor-relay <command>
${RELAY_SIDE_USAGE}
  --version                         print the version`;

void dispatch('writeback-monitor-relay', USAGE, RELAY_SIDE_COMMANDS, process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
