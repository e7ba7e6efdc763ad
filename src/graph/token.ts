/**
 * The Graph token: WBMON_GRAPH_TOKEN when given (a local run), else the Function App's
 * managed identity (or a developer's login) through DefaultAzureCredential. @azure/identity is
 * loaded only when a token is first needed, keeping it out of every cold start.
 */
export function graphToken(graphUrl: string, preAcquired: string | undefined): () => Promise<string> {
  if (preAcquired) return async () => preAcquired;
  const scope = `${new URL(graphUrl).origin}/.default`;
  let credential: Promise<{ getToken(scope: string): Promise<{ token: string } | null> }> | undefined;
  return async () => {
    credential ??= import('@azure/identity').then((m) => new m.DefaultAzureCredential({ managedIdentityClientId: process.env.AZURE_CLIENT_ID }));
    const token = await (await credential).getToken(scope);
    if (!token) throw new Error('no token for Microsoft Graph from the managed identity');
    return token.token;
  };
}
