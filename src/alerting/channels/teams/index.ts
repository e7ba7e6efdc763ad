import type { Channel } from '../channel.js';
import { postJson } from '../http-post.js';
import { alertLinks, type LinkTargets } from '../../links.js';
import { buildPayload } from './payload.js';

export { buildPayload, type TeamsMessage } from './payload.js';

/**
 * Microsoft Teams through a Workflows webhook ("post to a channel when a webhook request is
 * received"): one Adaptive Card per event. The Workflows endpoint answers 202 with an empty
 * body; 200 is accepted too. The URL carries its own signature, so it is a secret: it never
 * appears in an error (postJson sees to that). `links` gives the status page and workbook to
 * link to, read at each send (under serve the address is known only once it listens).
 */
export function teamsChannel(url: string, options: { timeoutMs?: number; links?: () => LinkTargets } = {}): Channel {
  return {
    name: 'teams',
    async send(event) {
      const links = alertLinks(event, options.links?.() ?? {});
      return postJson('teams', url, JSON.stringify(buildPayload(event, links)), { accept: [200, 202], timeoutMs: options.timeoutMs });
    },
  };
}
