/**
 * Certificates made at test time: a test CA, leaves it signs (valid, expired, expiring, wrong
 * host) and a self-signed leaf nobody trusts. ECDSA P-256 keeps generation in milliseconds.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKeyPair = webcrypto.CryptoKeyPair;
type CryptoKey = webcrypto.CryptoKey;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface KeyAndCert {
  key: string;
  cert: string;
}

interface Issuer {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

export interface TestCa extends KeyAndCert {
  issue(options: LeafOptions): Promise<KeyAndCert>;
}

export interface LeafOptions {
  /** DNS names; IP addresses go in `ips`. */
  names?: string[];
  ips?: string[];
  /** Days from now; negative means in the past. */
  notBeforeDays?: number;
  notAfterDays?: number;
}

let serial = 1;

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function makeLeaf(options: LeafOptions, issuer: Issuer | undefined, commonName: string): Promise<KeyAndCert> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const now = Date.now();
  const names = [
    ...(options.names ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    subject: `CN=${commonName}`,
    issuer: issuer ? issuer.cert.subject : `CN=${commonName}`,
    notBefore: new Date(now + (options.notBeforeDays ?? -1) * DAY),
    notAfter: new Date(now + (options.notAfterDays ?? 90) * DAY),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: issuer ? issuer.keys.privateKey : keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
    ],
  });
  return { key: await pkcs8Pem(keys.privateKey), cert: cert.toString('pem') };
}

export async function createTestCa(name = 'writeback-monitor test CA'): Promise<TestCa> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${name}`,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 365 * DAY),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const issuer: Issuer = { cert, keys };
  return {
    key: await pkcs8Pem(keys.privateKey),
    cert: cert.toString('pem'),
    issue: (options) => makeLeaf(options, issuer, options.names?.[0] ?? options.ips?.[0] ?? 'leaf'),
  };
}

/** A self-signed leaf: a perfectly good certificate that no trust store contains. */
export function createSelfSigned(options: LeafOptions): Promise<KeyAndCert> {
  return makeLeaf(options, undefined, options.names?.[0] ?? 'self-signed');
}
