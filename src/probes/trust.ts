/**
 * Which certificate store vouched for a TLS connection. On Windows the relay trusts the
 * machine's store (what Connect's .NET code and Schannel trust) on top of Node's bundled roots;
 * a probe says which of them held the root its chain leads to, so a TLS-inspecting proxy whose
 * company root is only in the Windows store shows as `system`, not as an unexplained `up`.
 *
 *   system   the root is in the machine's store (passed in: tls.getCACertificates('system'))
 *   bundled  the root is one of Node's bundled (Mozilla) roots
 *   extra    anything else that was trusted: extra CAs passed in, NODE_EXTRA_CA_CERTS
 */
import { rootCertificates, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';

export const TRUST_STORES = ['system', 'bundled', 'extra'] as const;
export type TrustStore = (typeof TRUST_STORES)[number];

/** Fingerprints (SHA-256, as X509Certificate gives them) per list of PEM certificates, built once per list. */
const indexes = new WeakMap<readonly string[], ReadonlySet<string>>();
function fingerprints(pems: readonly string[]): ReadonlySet<string> {
  let index = indexes.get(pems);
  if (!index) {
    const set = new Set<string>();
    for (const pem of pems) {
      try {
        set.add(new X509Certificate(pem).fingerprint256);
      } catch {
        // a store entry Node cannot read is not one that verified anything
      }
    }
    index = set;
    indexes.set(pems, index);
  }
  return index;
}

/**
 * The store of the first certificate of the verified chain, from the leaf up, that a store
 * holds (the trust anchor OpenSSL used); `system` wins over `bundled` when both hold it,
 * since that is the store Connect itself trusts. Undefined when the chain was not trusted.
 */
export function trustedBy(secure: TLSSocket, systemCa: readonly string[] | undefined): TrustStore | undefined {
  if (!secure.authorized) return undefined;
  const system = systemCa?.length ? fingerprints(systemCa) : undefined;
  const bundled = fingerprints(rootCertificates);
  // The detailed certificate carries the chain as verified, completed with the anchor from the
  // store (getPeerX509Certificate gives no issuers here). Call this before getPeerX509Certificate:
  // after it, Node 22 answers getPeerCertificate with an empty object.
  let cert: DetailedPeerCertificate | undefined = secure.getPeerCertificate(true);
  for (let depth = 0; cert?.fingerprint256 && depth < 10; depth++) {
    const print: string = cert.fingerprint256;
    if (system?.has(print)) return 'system';
    if (bundled.has(print)) return 'bundled';
    const issuer: DetailedPeerCertificate | undefined = cert.issuerCertificate;
    if (!issuer || issuer.fingerprint256 === print) break;
    cert = issuer;
  }
  return 'extra';
}
