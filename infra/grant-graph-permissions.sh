#!/usr/bin/env bash
# Grants the monitor's managed identity the Microsoft Graph application permissions the tenant
# checks read with: Organization.Read.All (licences, directory sync), and AuditLog.Read.All with
# Directory.Read.All (SSPR writeback failures: the directoryAudits API reference names both as
# its least privileged application permissions). Run once, as a Privileged Role Administrator or Global
# Administrator, with the Azure CLI signed in to the tenant:
#
#   infra/grant-graph-permissions.sh <principal-id-of-the-managed-identity>
#
# The principal id is the managed identity's object id (az identity show --query principalId).
# Granting an application permission is admin consent: it takes effect without a user prompt,
# and new tokens carry it within minutes (a running app may hold a cached token for a while).
set -euo pipefail

principal="${1:?usage: $0 <principal-id-of-the-managed-identity>}"
graph_app_id="00000003-0000-0000-c000-000000000000" # Microsoft Graph, the same in every tenant

graph_sp=$(az ad sp show --id "$graph_app_id" --query id -o tsv)

for permission in Organization.Read.All AuditLog.Read.All Directory.Read.All; do
  role=$(az ad sp show --id "$graph_app_id" --query "appRoles[?value=='$permission' && contains(allowedMemberTypes, 'Application')].id | [0]" -o tsv)
  existing=$(az rest --method GET \
    --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$principal/appRoleAssignments" \
    --query "value[?appRoleId=='$role'] | length(@)" -o tsv)
  if [ "$existing" != "0" ]; then
    echo "$permission: already granted"
    continue
  fi
  az rest --method POST \
    --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$principal/appRoleAssignments" \
    --headers 'Content-Type=application/json' \
    --body "{\"principalId\": \"$principal\", \"resourceId\": \"$graph_sp\", \"appRoleId\": \"$role\"}" >/dev/null
  echo "$permission: granted"
done
