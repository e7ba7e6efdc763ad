/**
 * The one place channels are registered: each name maps to a factory that builds the channel
 * from the settings, or says it is not configured. Adding a channel is one entry here and one
 * folder beside this file.
 */
import type { AlertSettings } from '../../config/settings.js';
import type { Channel } from './channel.js';
import { graphToken } from '../../graph/token.js';
import { emailChannel } from './email/index.js';
import { graphMailChannel } from './graphmail/index.js';
import { teamsChannel } from './teams/index.js';
import { webhookChannel } from './webhook/index.js';

/** What channels may share with the rest of the monitor. */
export interface ChannelIo {
  /** Microsoft Graph tokens (the runtime's, so the identity's token cache is shared); built from the settings when absent. */
  readonly graphToken?: () => Promise<string>;
}

type Factory = (settings: AlertSettings, io: ChannelIo) => Channel | undefined;

export const CHANNELS = {
  teams: (s) => (s.teamsWebhookUrl ? teamsChannel(s.teamsWebhookUrl) : undefined),
  webhook: (s) => (s.webhookUrl ? webhookChannel(s.webhookUrl, s.webhookSecret ? { secret: s.webhookSecret } : {}) : undefined),
  email: (s) =>
    s.emailVia === 'smtp' && s.smtpUrl && s.emailFrom && s.emailTo.length ? emailChannel({ url: s.smtpUrl, from: s.emailFrom, to: s.emailTo }) : undefined,
  graphmail: (s, io) =>
    s.emailVia === 'graph' && s.emailFrom && s.emailTo.length
      ? graphMailChannel({ graphUrl: s.graphUrl, from: s.emailFrom, to: s.emailTo, token: io.graphToken ?? graphToken(s.graphUrl, s.graphToken) })
      : undefined,
} satisfies Record<string, Factory>;

export type ChannelName = keyof typeof CHANNELS;

/** The channels the settings configure, by name. */
export function configuredChannels(settings: AlertSettings, io: ChannelIo = {}): Map<ChannelName, Channel> {
  const channels = new Map<ChannelName, Channel>();
  for (const [name, factory] of Object.entries(CHANNELS) as [ChannelName, Factory][]) {
    const channel = factory(settings, io);
    if (channel) channels.set(name, channel);
  }
  return channels;
}
