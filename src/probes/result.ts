import type { TrustStore } from './trust.js';

/**
 * One result model for every probe, cloud or relay. Codes are stable: alerts, telemetry and the
 * remediation table key on them. docs/probe-codes.md documents each one.
 */
export type Phase = 'dns' | 'proxy' | 'tcp' | 'tls' | 'http';

export const FAILURE_CODES = [
  'dns_nxdomain', // the name does not exist
  'dns_timeout', // the resolver did not answer in time
  'dns_error', // any other resolver failure (SERVFAIL, refused, no address)
  'proxy_unreachable', // TCP to the proxy failed (refused, timeout, reset)
  'proxy_refused', // the proxy answered CONNECT with a non-2xx status
  'proxy_timeout', // the proxy accepted TCP but did not answer CONNECT in time
  'tcp_refused', // RST on connect: nothing listens, or a firewall rejects
  'tcp_timeout', // no answer to SYN: a firewall drops
  'tcp_unreachable', // host or network unreachable (ICMP)
  'tcp_reset', // the connection was reset before TLS could start
  'tls_handshake', // the handshake failed (protocol alert, reset mid-handshake, TLS inspection gone wrong)
  'tls_timeout', // TCP connected but the handshake never finished
  'tls_untrusted', // the chain does not lead to a trusted root (self-signed, TLS inspection CA)
  'tls_hostname', // the certificate does not cover the host name
  'tls_expired', // the certificate has expired (or is not yet valid)
  'http_timeout', // the request was sent but the response did not arrive in time
  'http_status', // the service answered with a status that means it is not working (5xx)
  'http_unexpected', // the service answered, but not with its known normal answer (per-host rule)
  'http_error', // the connection broke during the HTTP exchange
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

export const WARNING_CODES = ['tls_expiring'] as const;
export type WarningCode = (typeof WARNING_CODES)[number];

export interface PhaseTimings {
  /** Milliseconds per phase; a phase that did not run is absent. */
  dns?: number;
  proxy?: number;
  tcp?: number;
  tls?: number;
  /**
   * From the request's last byte handed to the socket to the first byte of the answer
   * (blackbox_exporter's `processing`). `dns` is absent for an IP address.
   */
  ttfb?: number;
  /** Whole probe, from start to the end of the response body (or the failure). */
  total: number;
}

export interface TlsInfo {
  protocol: string | null;
  subject: string;
  issuer: string;
  validTo: string;
  daysToExpiry: number;
  /** The chain leads to a trusted root (the host name is judged apart, in hostnameValid). */
  authorized: boolean;
  hostnameValid: boolean;
  /** Which store held the root the chain leads to (src/probes/trust.ts); absent when untrusted. */
  trust?: TrustStore;
}

export interface ProbeResult {
  /** The URL probed, exactly as configured (never carries credentials). */
  target: string;
  ok: boolean;
  /** When the probe started, ISO 8601. */
  startedAt: string;
  failure?: { code: FailureCode; phase: Phase; message: string };
  warnings: { code: WarningCode; message: string }[];
  timings: PhaseTimings;
  /** The address connected to (the proxy's when one was used). */
  address?: string;
  /** The proxy the probe went through, without credentials; null when direct. */
  proxy: string | null;
  tls?: TlsInfo;
  http?: { status: number };
}
