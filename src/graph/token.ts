/**
 * The Graph token: WBMON_GRAPH_TOKEN when given (a local run), else the Function App's
 * managed identity (or a developer's login) through DefaultAzureCredential. @azure/identity is
 * loaded only when a token is first needed, keeping it out of every cold start.
 */
export function graphToken(graphUrl: string, preAcquired: string | undefined): () => Promise<string> {
  if (preAcquired) return async () => preAcquired;
  return identityToken(`${new URL(graphUrl).origin}/.default`, 'Microsoft Graph');
}

/** Tokens for one scope from the managed identity (AZURE_CLIENT_ID: a user-assigned one), one credential per provider so its cache is kept. */
export function identityToken(scope: string, what: string): () => Promise<string> {
  let credential: Promise<{ getToken(scope: string): Promise<{ token: string } | null> }> | undefined;
  return async () => {
    credential ??= import('@azure/identity').then((m) => new m.DefaultAzureCredential({ managedIdentityClientId: process.env.AZURE_CLIENT_ID }));
    const token = await (await credential).getToken(scope);
    if (!token) throw new Error(`no token for ${what} from the managed identity`);
    return token.token;
  };
}
