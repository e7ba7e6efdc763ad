/**
 * `writeback-monitor alert test`: one clearly marked test alert through every configured
 * channel, straight to the channel (not through the outbox: the person running it wants each
 * receiver's answer now, and a test must never be retried into a real page later).
 */
import type { Channel } from './channels/channel.js';
import type { AlertEvent } from './event.js';

/** A test event: kind `test`, a check id of its own, and words that say nothing is wrong. */
export function testAlertEvent(now: Date): AlertEvent {
  const at = now.toISOString();
  return {
    id: `test:alert|test|${at}`,
    kind: 'test',
    checkId: 'test:alert',
    checkKind: 'probe',
    target: 'writeback-monitor alert test',
    location: 'test',
    state: 'up',
    since: at,
    at,
    remediation: {
      summary: 'Nothing to fix: this is a test of the alert channels.',
      steps: ['If you see this where the on-call engineers will see real alerts, this channel works.'],
    },
  };
}

export interface ChannelAnswer {
  readonly channel: string;
  readonly accepted: boolean;
  /** The receiver's answer, or why it was refused (never a URL or secret: channels see to that). */
  readonly answer: string;
  /** What the answer does not prove, for this channel. */
  readonly note?: string;
}

/**
 * Teams Workflows answers 202 as soon as it has queued the flow run: a flow that later fails
 * to post (a deleted channel, a flow owner who left) still answered 202.
 */
const NOTES: Readonly<Record<string, string>> = {
  teams:
    'Teams Workflows answers 202 before its flow runs, also when the flow then fails to post: check that the card arrived in the channel. The flow runs as the account that created it; if that account is disabled, alerts stop.',
};

export async function sendTestAlert(channels: ReadonlyMap<string, Channel>, now: Date): Promise<ChannelAnswer[]> {
  const event = testAlertEvent(now);
  return Promise.all(
    [...channels].map(async ([name, channel]): Promise<ChannelAnswer> => {
      const note = NOTES[name];
      try {
        const answer = (await channel.send(event)) || 'accepted';
        return { channel: name, accepted: true, answer, ...(note && { note }) };
      } catch (err) {
        return { channel: name, accepted: false, answer: (err as Error).message };
      } finally {
        await channel.close?.();
      }
    }),
  );
}

/** One line per channel, then the notes: what the command prints. */
export function describeAnswers(answers: readonly ChannelAnswer[]): string[] {
  const lines = answers.map((a) => `${a.channel}: ${a.accepted ? 'accepted' : 'refused'}: ${a.answer}`);
  const notes = answers.flatMap((a) => (a.note ? [`note (${a.channel}): ${a.note}`] : []));
  return [...lines, ...notes];
}
