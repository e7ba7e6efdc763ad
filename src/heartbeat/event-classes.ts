/**
 * What each Entra Connect event means for writeback: one table shared by the relay (which
 * sorts what it reports) and the monitor (which sorts again, because relays in the field are
 * upgraded slowly and older ones list every 33xxx event as a failure). Pure.
 *
 * The rules follow Microsoft's "Troubleshoot self-service password reset writeback in Microsoft
 * Entra ID", section "Password writeback event log error codes" (checked 2026-12-01); each rule
 * quotes the text it relies on.
 *
 * The Application log is not trusted: any process on the Connect server may write an event under
 * an existing source. So an event's text is never advice (the monitor shows it only as a quoted,
 * labelled excerpt), and relay namespaces are taken only from writeback's own connection events
 * and only when they are named as Microsoft names the SSPR relays.
 */

/**
 * outage: writeback is not working, page (the check goes down);
 * warning: writeback works but needs attention (a warning on an up check);
 * admin: one user's operation needs an administrator (reported with a count, never paged);
 * user: the user's or the on-prem policy's business, writeback worked (not reported);
 * activity: writeback doing its work (an admin reset started or written back; not reported);
 * heartbeat: writeback's 31019; ignored: everything else.
 */
export type EventClass = 'outage' | 'warning' | 'admin' | 'user' | 'activity' | 'heartbeat' | 'ignored';

export interface ClassifiableEvent {
  readonly provider: string;
  readonly eventId: number;
  readonly message: string;
}

const PASSWORD_RESET_SERVICE = /^PasswordResetService$/i;
const ADSYNC = /^ADSync$/i;
/**
 * Where Connect logs its application credential's events (1011, 1012). Microsoft's page
 * (authenticate-application-id, "On-demand certificate rotation", checked 2026-12-02) says only
 * "in the Application event log", not under which source; the sync engine writes as ADSync and
 * its scheduler and credential work as "Directory Synchronization", so either is taken. Which
 * one a real Connect 2.5 server uses only a real Windows Server can show.
 */
const CONNECT_ENGINE = /^(?:ADSync|Directory Synchronization)$/i;

/** 31019, ServiceBusHeartBeat. */
export const HEARTBEAT_EVENT = 31019;

const PASSWORD_RESET_SERVICE_CLASSES: ReadonlyMap<number, EventClass> = new Map<number, EventClass>([
  // Microsoft's bandwidth note, not the event table, gives the rhythm the heartbeat rule relies
  // on (concept-sspr-writeback, "Password writeback bandwidth usage"): "One message is sent once
  // every five minutes as a service heartbeat for as long as the service is running." The table
  // says of 31019: "we successfully sent a request to your tenant's Service Bus instance."
  [HEARTBEAT_EVENT, 'heartbeat'],

  // 31016 WriteBackServiceStopped: "the password writeback service has stopped. Any password
  // management requests from the cloud won't be successful."
  [31016, 'outage'],
  // 31034 ServiceBusListenerError: "there was an error connecting to your tenant's Service Bus listener."
  [31034, 'outage'],
  // 31044: "This event indicates that password writeback is not working. ... The writeback client
  // returns an error if either Service Host is not running."
  [31044, 'outage'],
  // 32001 ServiceError: "the on-premises service was unable to connect to the password-reset web service."
  [32001, 'outage'],
  // 32002 ServiceBusError: "there was an error connecting to your tenant's Service Bus instance.
  // This can happen if you're blocking outbound connections in your on-premises environment."
  [32002, 'outage'],
  // 32009 AuthTokenError: "we couldn't get an authorization token for the Global Administrator
  // account specified during Microsoft Entra Connect setup."
  [32009, 'outage'],

  // 32014 ServiceBusWarning: "we had to retry to connect to your tenant's Service Bus instance.
  // Under normal conditions, this should not be a concern, but if you see this event many times,
  // consider checking your network connection to Service Bus".
  [32014, 'warning'],
  // 32015 ReportServiceHealthError: "there was an error when sending this health information back
  // to the cloud web service" (the health report, "purely a heartbeat and basic service
  // statistics"): the path to the cloud needs a look, but requests may still be written back;
  // when writeback itself stops talking to Service Bus, 31019 stops and that check fails.
  [32015, 'warning'],
  // 32004 DecryptionError: "To resolve this problem, disable and then re-enable password writeback".
  [32004, 'warning'],
  // 32005 ConfigurationError: "try disabling and then re-enabling password writeback to force a
  // rewrite of the configuration file."
  [32005, 'warning'],
  // 32008 ValidationError: "we received an invalid response from the password-reset web service.
  // To fix this problem, try disabling and then re-enabling password writeback."
  [32008, 'warning'],
  // 32010 CryptoError: "an error generating the password encryption key or decrypting a password
  // ... You can also try disabling and then re-enabling the password writeback service."
  [32010, 'warning'],

  // 33001 ADUnKnownError: "an unknown error returned by Active Directory. Check the Microsoft
  // Entra Connect server event log for events from the ADSync source" (per the OU table, also
  // reserved characters in the user's OU path): one user's operation, for an administrator.
  [33001, 'admin'],
  // 33002 ADUserNotFoundError: "the user who is trying to reset or change a password was not found
  // in the on-premises directory. This error can occur when the user has been deleted on-premises
  // but not in the cloud. This error can also occur if there's a problem with sync."
  [33002, 'admin'],
  // 33003 ADMutliMatchError: "we found two users in your on-premises directory with the same cloud
  // anchor attribute."
  [33003, 'admin'],
  // 33004 ADPermissionsError: "the Active Directory Management Agent (ADMA) service account
  // doesn't have the appropriate permissions on the account in question ... This error could also
  // occur when the user's attribute AdminCount is set to 1."
  [33004, 'admin'],
  // 33009 ADConfigurationError: "a problem writing a password back to your on-premises directory
  // because of a configuration issue with Active Directory."
  [33009, 'admin'],

  // 33005 ADUserAccountDisabled: "an account that was disabled on-premises. Enable the account and try the operation again."
  [33005, 'user'],
  // 33006 ADUserAccountLockedOut: "an account that was locked out on-premises. ... Unlock the account and try the operation again."
  [33006, 'user'],
  // 33007 ADUserIncorrectPassword: "the user specified an incorrect current password when
  // performing a password change operation. Specify the correct current password and try again."
  [33007, 'user'],
  // 33008 ADPasswordPolicyError: "a password ... that doesn't meet the password age, history,
  // complexity, or filtering requirements of the domain" (a second change within AD's default
  // one-day minimum password age is one): the policy worked, and so did writeback.
  [33008, 'user'],

  // 31009 ResetUserPasswordByAdminStart: "the first event in every password-reset writeback
  // operation that is initiated by an administrator"; 31010 ResetUserPasswordByAdminSuccess:
  // "The password has been successfully written back to the local Active Directory
  // environment." An admin reset under way, and one that worked: writeback works.
  [31009, 'activity'],
  [31010, 'activity'],
  // 31011 ResetUserPasswordByAdminFail: "The password arrived successfully to the on-premises
  // environment. But when we attempted to set the password in the local Active Directory
  // environment, a failure occurred" (the domain's password rules, the ADMA account's
  // permissions, or a protected group): one user's operation, for an administrator.
  [31011, 'admin'],
]);

/**
 * Connect's application credential (Connect 2.5.3.0 and later sign in as an application with a
 * certificate; authenticate-application-id, "On-demand certificate rotation"): "Microsoft Entra
 * Connect warns if the certificate rotation is due. That is, if expiration is less than or
 * equal to 150 days. It emits an error if the certificate is already expired. You can find
 * these warnings (Event ID 1011) and errors (Event ID 1012) in the Application event log."
 * An expired credential means Connect can no longer sign in: sync and writeback stop.
 */
const CREDENTIAL_CLASSES: ReadonlyMap<number, EventClass> = new Map<number, EventClass>([
  [1011, 'warning'],
  [1012, 'outage'],
]);

/**
 * ADSync 6329 with "BAIL: MMS(4924) 0x80230619: "A restriction prevents the password from being
 * changed to the current one specified."": "the password writeback service attempts to set a
 * password on your local directory that doesn't meet the password age, history, complexity, or
 * filtering requirements of the domain".
 */
const POLICY_REFUSAL = /0x80230619/i;

export function classifyEvent(e: ClassifiableEvent): EventClass {
  if (CONNECT_ENGINE.test(e.provider) && CREDENTIAL_CLASSES.has(e.eventId)) return CREDENTIAL_CLASSES.get(e.eventId)!;
  if (ADSYNC.test(e.provider)) {
    // 6800: "The presence of this event means that the password writeback endpoint didn't start up."
    if (e.eventId === 6800) return 'outage';
    // 6329 with 0x80230619: the domain's password rules refused the password (the user's
    // business, and proof that the round trip to AD worked); any other 6329 is a failed
    // password set for an administrator to look at.
    if (e.eventId === 6329) return POLICY_REFUSAL.test(e.message) ? 'user' : 'admin';
    return 'ignored';
  }
  if (!PASSWORD_RESET_SERVICE.test(e.provider)) return 'ignored';
  return PASSWORD_RESET_SERVICE_CLASSES.get(e.eventId) ?? 'ignored';
}

/** Higher is worse: the report names the worst event of its window. */
export const SEVERITY: Readonly<Record<EventClass, number>> = { outage: 4, warning: 3, admin: 2, user: 1, activity: 0, heartbeat: 0, ignored: 0 };

/** Outages and the rest worth telling: what a relay reports. */
export const isReported = (c: EventClass): boolean => c === 'outage' || c === 'warning' || c === 'admin';

/** One event, whichever heartbeat repeats it (the relay's window overlaps successive heartbeats). */
export function eventKey(e: { readonly provider: string; readonly eventId: number; readonly time: string }): string {
  return `${e.provider.toLowerCase()}|${e.eventId}|${e.time}`;
}

/**
 * Writeback's connection events, whose text names the relay it connects to: 31019 (the heartbeat
 * it "sent ... to your tenant's Service Bus instance"), 31034 ("an error connecting to your
 * tenant's Service Bus listener") and 31044 ("The Service Bus listens for requests on two
 * separate relays").
 */
const NAMESPACE_EVENTS = new Set([HEARTBEAT_EVENT, 31034, 31044]);

/**
 * The SSPR relays as Microsoft names them: ssprdedicatedsbprodscu / ...ncu.servicebus.windows.net,
 * ssprdedicatedsbmcprodcne / ...cnn.servicebus.chinacloudapi.cn (troubleshoot-sspr-writeback,
 * "Confirm network connectivity"); the US Government suffix is that page's
 * *.servicebus.usgovcloudapi.net. Anything else in an event is someone else's host.
 */
const WRITEBACK_NAMESPACE = /^ssprdedicatedsb[a-z0-9-]{1,48}\.servicebus\.(?:windows\.net|usgovcloudapi\.net|chinacloudapi\.cn)$/;
const HOST_IN_TEXT = /(?<![a-z0-9.-])([a-z0-9][a-z0-9-]{2,62}\.servicebus\.(?:windows\.net|usgovcloudapi\.net|chinacloudapi\.cn))(?![a-z0-9-])/gi;

export function isWritebackNamespace(host: string): boolean {
  return WRITEBACK_NAMESPACE.test(host);
}

/** The SSPR relay hosts an event names, when it is one of writeback's connection events. */
export function namespacesIn(e: ClassifiableEvent): string[] {
  if (!PASSWORD_RESET_SERVICE.test(e.provider) || !NAMESPACE_EVENTS.has(e.eventId)) return [];
  return [...e.message.matchAll(HOST_IN_TEXT)].map((m) => m[1]!.toLowerCase()).filter(isWritebackNamespace);
}
