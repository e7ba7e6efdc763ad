/**
 * The one place channels are registered: each name maps to a factory that builds the channel
 * from the settings, or says it is not configured. Adding a channel is one entry here and one
 * folder beside this file.
 */
import type { AlertSettings } from '../../config/settings.js';
import type { Channel } from './channel.js';
import { emailChannel } from './email/index.js';
import { teamsChannel } from './teams/index.js';
import { webhookChannel } from './webhook/index.js';

type Factory = (settings: AlertSettings) => Channel | undefined;

export const CHANNELS = {
  teams: (s) => (s.teamsWebhookUrl ? teamsChannel(s.teamsWebhookUrl) : undefined),
  webhook: (s) => (s.webhookUrl ? webhookChannel(s.webhookUrl, s.webhookSecret ? { secret: s.webhookSecret } : {}) : undefined),
  email: (s) => (s.smtpUrl && s.emailFrom && s.emailTo.length ? emailChannel({ url: s.smtpUrl, from: s.emailFrom, to: s.emailTo }) : undefined),
} satisfies Record<string, Factory>;

export type ChannelName = keyof typeof CHANNELS;

/** The channels the settings configure, by name. */
export function configuredChannels(settings: AlertSettings): Map<ChannelName, Channel> {
  const channels = new Map<ChannelName, Channel>();
  for (const [name, factory] of Object.entries(CHANNELS) as [ChannelName, Factory][]) {
    const channel = factory(settings);
    if (channel) channels.set(name, channel);
  }
  return channels;
}
