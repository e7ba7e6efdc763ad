/**
 * What results may say of people: user names masked the one way every check masks them, so an
 * alert, /api/status, the store and telemetry never carry a user's full name. Pure.
 */

/** `jane@contoso.com` → `j***@contoso.com`; a name without a domain → `j***`. Masking twice changes nothing. */
export function maskUser(name: string | null | undefined): string {
  if (!name) return 'unknown user';
  const at = name.lastIndexOf('@');
  const local = at > 0 ? name.slice(0, at) : name;
  return `${local.slice(0, 1)}***${at > 0 ? name.slice(at) : ''}`;
}

// A UPN or mail address: what Connect's events name users by ("UserPrincipalName: jane.doe@contoso.com").
const ADDRESS = /[^\s@"'<>()[\],;:\\/=]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+/gi;
// The CN of a distinguished name ("CN=Doe\, Jane,OU=Staff,DC=contoso,DC=com"): the user's display name.
const COMMON_NAME = /\bCN=((?:\\.|[^,;+"<>\\])+)/gi;
// A down-level logon name ("CONTOSO\jdoe"): the domain stays, the account is masked. Only an
// upper-case domain, as Windows writes NetBIOS names, so paths ("AD Sync\Data") stay readable.
const DOWN_LEVEL = /\b([A-Z0-9][A-Z0-9-]{0,14})\\([^\s\\/"'<>,;:@]+)/g;

/**
 * Free text (an event's message) with every user name in it masked as maskUser does: UPNs and
 * mail addresses, the CN of distinguished names, DOMAIN\account names. Idempotent, so the relay
 * and the monitor may both apply it.
 */
export function maskNames(text: string): string {
  return text
    .replace(COMMON_NAME, (_, cn: string) => `CN=${maskUser(cn)}`)
    .replace(DOWN_LEVEL, (_, domain: string, account: string) => `${domain}\\${maskUser(account)}`)
    .replace(ADDRESS, (address) => maskUser(address));
}
