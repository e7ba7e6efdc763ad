/**
 * The one place channels are registered: each name maps to a factory that builds the channel
 * from the settings, or says it is not configured. Adding a channel is one entry here and one
 * folder beside this file.
 */
import type { AlertSettings } from '../../config/settings.js';
import type { Channel } from './channel.js';
import { graphToken } from '../../graph/token.js';
import { linkTargets, type LinkTargets } from '../links.js';
import { emailChannel } from './email/index.js';
import { graphMailChannel } from './graphmail/index.js';
import { teamsChannel } from './teams/index.js';
import { webhookChannel } from './webhook/index.js';

/** What channels may share with the rest of the monitor. */
export interface ChannelIo {
  /** Microsoft Graph tokens (the runtime's, so the identity's token cache is shared); built from the settings when absent. */
  readonly graphToken?: () => Promise<string>;
  /**
   * Where alerts link to, read at each send (`serve` knows its own address only once it
   * listens); from the settings when absent (WBMON_PUBLIC_URL, else WEBSITE_HOSTNAME).
   */
  readonly links?: () => LinkTargets;
}

type Factory = (settings: AlertSettings, io: ChannelIo & { readonly links: () => LinkTargets }) => Channel | undefined;

export const CHANNELS = {
  teams: (s, io) => (s.teamsWebhookUrl ? teamsChannel(s.teamsWebhookUrl, { links: io.links }) : undefined),
  webhook: (s, io) => (s.webhookUrl ? webhookChannel(s.webhookUrl, { ...(s.webhookSecret && { secret: s.webhookSecret }), links: io.links }) : undefined),
  email: (s, io) =>
    s.emailVia === 'smtp' && s.smtpUrl && s.emailFrom && s.emailTo.length
      ? emailChannel({ url: s.smtpUrl, from: s.emailFrom, to: s.emailTo, links: io.links })
      : undefined,
  graphmail: (s, io) =>
    s.emailVia === 'graph' && s.emailFrom && s.emailTo.length
      ? graphMailChannel({ graphUrl: s.graphUrl, from: s.emailFrom, to: s.emailTo, token: io.graphToken ?? graphToken(s.graphUrl, s.graphToken), links: io.links })
      : undefined,
} satisfies Record<string, Factory>;

export type ChannelName = keyof typeof CHANNELS;

/** The channels the settings configure, by name. */
export function configuredChannels(settings: AlertSettings, io: ChannelIo = {}): Map<ChannelName, Channel> {
  const channels = new Map<ChannelName, Channel>();
  const fromSettings = linkTargets(settings);
  const withLinks = { ...io, links: io.links ?? (() => fromSettings) };
  for (const [name, factory] of Object.entries(CHANNELS) as [ChannelName, Factory][]) {
    const channel = factory(settings, withLinks);
    if (channel) channels.set(name, channel);
  }
  return channels;
}
