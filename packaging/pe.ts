/**
 * Removes the Authenticode signature from a PE file (what `signtool remove /s` does), before
 * postject changes the file: a signature that no longer matches the file is worse than none
 * (Windows shows it as tampered). An organisation that wants a signed relay signs the built
 * exe with its own certificate.
 */
export function stripSignature(pe: Buffer): Buffer {
  if (pe.readUInt16LE(0) !== 0x5a4d) throw new Error('not a PE file (no MZ header)');
  const peOffset = pe.readUInt32LE(0x3c);
  if (pe.readUInt32LE(peOffset) !== 0x00004550) throw new Error('not a PE file (no PE signature)');
  const optional = peOffset + 24;
  const magic = pe.readUInt16LE(optional);
  const directories = optional + (magic === 0x20b ? 112 : magic === 0x10b ? 96 : NaN);
  if (Number.isNaN(directories)) throw new Error(`unknown optional header magic 0x${magic.toString(16)}`);
  const securityEntry = directories + 4 * 8; // IMAGE_DIRECTORY_ENTRY_SECURITY
  const certOffset = pe.readUInt32LE(securityEntry);
  const certSize = pe.readUInt32LE(securityEntry + 4);
  if (certOffset === 0 || certSize === 0) return pe;
  const out = Buffer.from(pe);
  out.writeUInt32LE(0, securityEntry);
  out.writeUInt32LE(0, securityEntry + 4);
  out.writeUInt32LE(0, optional + 64); // CheckSum: not checked for user-mode programs
  // The certificate table is the last thing in a signed file; cut it off when it is.
  return certOffset + certSize >= pe.length - 8 ? out.subarray(0, certOffset) : out;
}

/** The size of the signature a PE file carries (0: unsigned). */
export function signatureSize(pe: Buffer): number {
  const optional = pe.readUInt32LE(0x3c) + 24;
  const directories = optional + (pe.readUInt16LE(optional) === 0x20b ? 112 : 96);
  return pe.readUInt32LE(directories + 4 * 8 + 4);
}
