// Azure Monitor standard availability tests of the public writeback endpoints, from several
// Azure regions at once, with no code: what an Azure user would set up next to the monitor, and
// what tells a regional outage of the monitor's own region from a writeback outage. Each test
// is named `webtest:<url>`, so its results sit in AppAvailabilityResults beside the monitor's
// `cloud:<url>` results (same URL, other regions), and the workbook and the standard-test alert
// rules (alerts.bicep) find them by that prefix.
//
// What each endpoint answers unauthenticated (docs/probe-codes.md, "What up means"): a Service
// Bus namespace answers 200 with its Atom feed "Publicly Listed Services"; the password reset
// service answers 200 with its page. The monitor's own probe accepts any status below 500 there;
// a standard test takes one expected status, so it expects that 200, following redirects.

param location string

@description('Application Insights component the results go to (the hidden-link tag ties each test to it).')
param appInsightsName string

@description('Test location ids, e.g. emea-nl-ams-azr (West Europe), us-va-ash-azr (East US), apac-sg-sin-azr (Southeast Asia).')
param testLocations string[]

@description('The URLs to test (https).')
param targets string[]

@description('Seconds between runs from each location.')
@allowed([300, 600, 900])
param frequencySeconds int

param namePrefix string
param tags object

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// The host of https://host/path, and whether it is a Service Bus namespace (the rule of
// src/probes/rules.ts: *.servicebus.windows.net and the national clouds' namespaces).
var tests = [
  for url in targets: {
    url: url
    host: toLower(split(url, '/')[2])
    serviceBus: contains(toLower(split(url, '/')[2]), '.servicebus.')
  }
]

resource webtest 'Microsoft.Insights/webtests@2022-06-15' = [
  for t in tests: {
    name: '${namePrefix}-${split(t.host, '.')[0]}-${take(uniqueString(t.url), 6)}'
    location: location
    // Without this tag the portal does not show the test under the component.
    tags: union(tags, { 'hidden-link:${appInsights.id}': 'Resource' })
    kind: 'standard'
    properties: {
      SyntheticMonitorId: '${namePrefix}-${split(t.host, '.')[0]}-${take(uniqueString(t.url), 6)}'
      Name: 'webtest:${t.url}'
      Description: t.serviceBus
        ? 'Writeback\'s Service Bus relay namespace, unauthenticated: 200 with the "Publicly Listed Services" Atom feed, TLS valid for at least 7 more days. Beside the monitor\'s cloud:${t.url} results.'
        : 'The password reset service, unauthenticated: 200 after redirects, TLS valid for at least 7 more days. Beside the monitor\'s cloud:${t.url} results.'
      Enabled: true
      Kind: 'standard'
      Frequency: frequencySeconds
      Timeout: 30
      // One retry 20 seconds after a failure, as the portal's default: a lost packet is not an outage.
      RetryEnabled: true
      Locations: [for id in testLocations: { Id: id }]
      Request: {
        RequestUrl: t.url
        HttpVerb: 'GET'
        ParseDependentRequests: false
        FollowRedirects: !t.serviceBus
      }
      ValidationRules: {
        ExpectedHttpStatusCode: 200
        IgnoreHttpStatusCode: false
        SSLCheck: true
        // The monitor warns at 14 days (tls_expiring); the test fails at 7.
        SSLCertRemainingLifetimeCheck: 7
        ContentValidation: t.serviceBus ? { ContentMatch: 'Publicly Listed Services', IgnoreCase: false, PassIfTextFound: true } : null
      }
    }
  }
]

output testNames string[] = [for (t, i) in tests: webtest[i].properties.Name]
