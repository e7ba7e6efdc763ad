/**
 * What counts as "the real service answered" for a host. The default is any status below 500:
 * a 4xx from the real endpoint still proves the path through firewalls and proxies works.
 *
 * Azure Service Bus namespaces (*.servicebus.windows.net, and the US Government and China
 * clouds' servicebus.usgovcloudapi.net and servicebus.chinacloudapi.cn; the relay that
 * writeback listens on):
 * an unauthenticated GET of the namespace root answers 200 with an Atom feed titled
 * "Publicly Listed Services" (generator "Service Bus 1.1"); Microsoft's Service Bus
 * troubleshooting guide uses exactly this to check connectivity, and names a
 * "Bad Request ... TrackingId" answer as the failure (IP filtering, a network rule, or a
 * proxy/TLS-inspection device answering in the service's place). So for these hosts we accept
 * exactly a 200 whose body is that feed, and nothing else.
 */
export interface AnswerRule {
  readonly name: string;
  /** Human text for alerts: what we expected. */
  readonly expects: string;
  accepts(status: number, body: string): boolean;
}

const anyBelow500: AnswerRule = {
  name: 'status-below-500',
  expects: 'an HTTP status below 500',
  accepts: (status) => status < 500,
};

const serviceBusNamespace: AnswerRule = {
  name: 'servicebus-namespace-feed',
  expects: 'HTTP 200 with the Service Bus "Publicly Listed Services" Atom feed',
  accepts: (status, body) => status === 200 && /<feed[\s>]/.test(body) && body.includes('Publicly Listed Services'),
};

export function answerRuleFor(hostname: string): AnswerRule {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (/\.servicebus\.(windows\.net|usgovcloudapi\.net|chinacloudapi\.cn)$/.test(host)) return serviceBusNamespace;
  return anyBelow500;
}
