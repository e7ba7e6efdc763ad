#!/usr/bin/env bash
# Grants the monitor's managed identity the Microsoft Graph application permissions the tenant
# checks read with: Organization.Read.All (licences, directory sync), AuditLog.Read.All with
# Directory.Read.All (SSPR writeback failures: the directoryAudits API reference names both as
# its least privileged application permissions; Directory.Read.All also lists the Cloud Sync
# configurations' service principals), and Synchronization.Read.All (the Cloud Sync
# configurations' provisioning jobs: quarantine, last run). Run once, as a Privileged Role
# Administrator or Global Administrator, with the Azure CLI signed in to the tenant:
#
#   infra/grant-graph-permissions.sh <principal-id-of-the-managed-identity> [--mail-send]
#
# The principal id is the managed identity's object id (az identity show --query principalId).
# Granting an application permission is admin consent: it takes effect without a user prompt,
# and new tokens carry it within minutes (a running app may hold a cached token for a while).
#
# --mail-send also grants Mail.Send (application), for email alerts through Microsoft Graph
# (WBMON_EMAIL_VIA=graph). On its own that lets the identity send as ANY mailbox: restrict it
# to the sender mailbox at once with an Exchange Online application access policy
# (New-ApplicationAccessPolicy -AccessRight RestrictAccess, docs/alerts.md). Microsoft now
# recommends RBAC for Applications instead (an "Application Mail.Send" role assignment scoped to
# the mailbox, also in docs/alerts.md); for that, do NOT pass --mail-send: the Entra ID grant
# applies to every mailbox whatever the Exchange scope says.
set -euo pipefail

usage="usage: $0 <principal-id-of-the-managed-identity> [--mail-send]"
principal=""
permissions=(Organization.Read.All AuditLog.Read.All Directory.Read.All Synchronization.Read.All)
for arg in "$@"; do
  case "$arg" in
    --mail-send) permissions+=(Mail.Send) ;;
    -h | --help) echo "$usage"; exit 0 ;;
    -*) echo "unknown option $arg; $usage" >&2; exit 2 ;;
    *)
      if [ -n "$principal" ]; then echo "$usage" >&2; exit 2; fi
      principal="$arg"
      ;;
  esac
done
if [ -z "$principal" ]; then echo "$usage" >&2; exit 2; fi

graph_app_id="00000003-0000-0000-c000-000000000000" # Microsoft Graph, the same in every tenant

graph_sp=$(az ad sp show --id "$graph_app_id" --query id -o tsv)

for permission in "${permissions[@]}"; do
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

case " ${permissions[*]} " in
  *" Mail.Send "*)
    echo "Mail.Send lets this identity send as any mailbox until an application access policy restricts it (docs/alerts.md)." >&2
    ;;
esac
