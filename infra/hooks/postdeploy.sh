#!/bin/sh
# azd postdeploy hook (POSIX; infra/hooks/postdeploy.ps1 is the same for Windows): Key Vault
# references the platform could not resolve yet (role assignments take minutes to apply) are
# retried by App Service only once a day, so ask for a refresh after each deploy. Needs the
# Azure CLI; without it, run the command in README "Registering a relay" by hand. azd passes
# the deployment's outputs (FUNCTION_APP_NAME) and the environment (AZURE_SUBSCRIPTION_ID,
# AZURE_RESOURCE_GROUP) as environment variables.
missing=""
for name in AZURE_SUBSCRIPTION_ID AZURE_RESOURCE_GROUP FUNCTION_APP_NAME; do
  eval "value=\${$name:-}"
  [ -n "$value" ] || missing="$missing $name"
done
if [ -n "$missing" ]; then
  echo "Key Vault references not refreshed: the azd environment lacks$missing (run azd provision first)"
  exit 1
fi
if ! command -v az >/dev/null 2>&1; then
  echo "Azure CLI not found: refresh the Key Vault references by hand (README, Registering a relay)"
  exit 0
fi
url="/subscriptions/${AZURE_SUBSCRIPTION_ID}/resourceGroups/${AZURE_RESOURCE_GROUP}/providers/Microsoft.Web/sites/${FUNCTION_APP_NAME}/config/configreferences/appsettings/refresh?api-version=2022-03-01"
if az rest --method post --url "$url" >/dev/null; then
  echo "Key Vault references refreshed"
else
  echo "Key Vault references not refreshed (az rest failed, see above): run the command in README, Registering a relay"
  exit 1
fi
