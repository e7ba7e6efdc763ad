/**
 * What each Connect event means for writeback (src/heartbeat/event-classes.ts), over RenderedXml
 * shaped like a Connect 2.x Application log: one event of every id the rules name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { maskNames, maskUser } from '../src/checks/mask.js';
import { classifyEvent, eventKey, isWritebackNamespace, namespacesIn } from '../src/heartbeat/event-classes.js';
import { parseEvents } from '../src/relay/eventlog.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'wevtutil');
const events = (fixture: string) => parseEvents(readFileSync(join(FIXTURES, fixture), 'utf8'));

describe('the classification of Connect events', () => {
  it('pages on outages, warns on retries and disable-and-re-enable errors, reports per-user admin work, and ignores users’ own refusals', () => {
    expect(events('every-class.xml').map((e) => `${e.provider} ${e.eventId} ${classifyEvent(e)}`)).toEqual([
      'PasswordResetService 31019 heartbeat',
      'PasswordResetService 31016 outage',
      'PasswordResetService 31034 outage',
      'PasswordResetService 31044 outage',
      'PasswordResetService 32001 outage',
      'PasswordResetService 32002 outage',
      'PasswordResetService 32009 outage',
      'ADSync 6800 outage',
      'PasswordResetService 32014 warning',
      'PasswordResetService 32015 warning',
      'PasswordResetService 32004 warning',
      'PasswordResetService 32005 warning',
      'PasswordResetService 32008 warning',
      'PasswordResetService 32010 warning',
      'PasswordResetService 33001 admin',
      'PasswordResetService 33002 admin',
      'PasswordResetService 33003 admin',
      'PasswordResetService 33004 admin',
      'PasswordResetService 33009 admin',
      'PasswordResetService 33005 user',
      'PasswordResetService 33006 user',
      'PasswordResetService 33007 user',
      'PasswordResetService 33008 user',
      'ADSync 6329 user',
      'ADSync 6329 admin',
    ]);
  });

  it("warns on Connect's application certificate due for rotation (1011), pages on an expired one (1012), reports a failed admin reset (31011), and not one that started or worked (31009, 31010)", () => {
    expect(events('credential-and-admin.xml').map((e) => `${e.provider} ${e.eventId} ${classifyEvent(e)}`)).toEqual([
      'PasswordResetService 31019 heartbeat',
      'Directory Synchronization 1012 outage',
      'ADSync 1011 warning',
      'PasswordResetService 31009 activity',
      'PasswordResetService 31010 activity',
      'PasswordResetService 31011 admin',
      // The same id under another source is someone else's event.
      'MsiInstaller 1011 ignored',
    ]);
  });

  it('ignores ids it has no rule for, and writeback ids under any other source', () => {
    expect(classifyEvent({ provider: 'PasswordResetService', eventId: 31001, message: 'PasswordResetStart' })).toBe('ignored');
    expect(classifyEvent({ provider: 'ADSync', eventId: 31034, message: 'not writeback' })).toBe('ignored');
    expect(classifyEvent({ provider: 'Application Error', eventId: 6800, message: 'not ADSync' })).toBe('ignored');
  });

  it('names one event by source, id and time, whatever its text', () => {
    expect(eventKey({ provider: 'PasswordResetService', eventId: 31034, time: '2026-03-01T09:58:30.000Z' })).toBe('passwordresetservice|31034|2026-03-01T09:58:30.000Z');
  });
});

describe('relay namespaces from the event log', () => {
  it("takes them only from writeback's connection events (31019, 31034, 31044), named as Microsoft names the SSPR relays", () => {
    const found = events('every-class.xml').map((e) => [e.eventId, namespacesIn(e)]).filter(([, hosts]) => (hosts as string[]).length > 0);
    expect(found).toEqual([
      [31019, ['ssprdedicatedsbprodscu.servicebus.windows.net']],
      [31034, ['ssprdedicatedsbprodscu.servicebus.windows.net']],
      [31044, ['ssprdedicatedsbprodncu.servicebus.windows.net']],
    ]);
  });

  it('does not take a host a 33007 names, nor a foreign host in a 31034 someone else wrote', () => {
    const userEvent = { provider: 'PasswordResetService', eventId: 33007, message: 'Retry at https://ssprdedicatedsbprodxyz.servicebus.windows.net/ UserPrincipalName: jane.doe@contoso.com' };
    expect(namespacesIn(userEvent)).toEqual([]);
    expect(events('fake-fix.xml').flatMap(namespacesIn)).toEqual([]);
    expect(isWritebackNamespace('contoso-relay.servicebus.windows.net')).toBe(false);
    expect(isWritebackNamespace('ssprdedicatedsbmcprodcne.servicebus.chinacloudapi.cn')).toBe(true);
  });
});

describe('masking users in event text', () => {
  it('masks UPNs, the CN of distinguished names and DOMAIN\\account names exactly as the Graph checks mask users', () => {
    const [ann, , , admin] = events('every-class.xml').filter((e) => classifyEvent(e) === 'admin');
    expect(maskNames(ann!.message)).toBe(
      'TrackingId: c2d4e6f8-0a1b-4c3d-8e5f-7a9b1c3d5e70, Reason: ADUnKnownError: Synchronization Engine returned an error hr=80230405, message=An unknown error occurred. UserPrincipalName: a***@contoso.com, DistinguishedName: CN=L***,OU=Sales #1,DC=contoso,DC=com',
    );
    expect(maskNames(admin!.message)).toMatch(/denied access\. User: CONTOSO\\d\*\*\*$/);
    expect(maskNames('UserPrincipalName: jane.doe@contoso.com')).toBe(`UserPrincipalName: ${maskUser('jane.doe@contoso.com')}`);
  });

  it('changes nothing when applied twice, and leaves paths and relay URLs readable', () => {
    const once = maskNames('jane.doe@contoso.com CN=Doe\\, Jane,DC=contoso CONTOSO\\jdoe');
    expect(once).toBe('j***@contoso.com CN=D***,DC=contoso CONTOSO\\j***');
    expect(maskNames(once)).toBe(once);
    const text = 'Could not connect to net.tcp://ssprdedicatedsbprodscu.servicebus.windows.net:9350/ from C:\\Program Files\\Microsoft Azure AD Sync\\Bin';
    expect(maskNames(text)).toBe(text);
  });
});
