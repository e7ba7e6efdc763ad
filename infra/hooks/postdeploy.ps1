# azd postdeploy hook (PowerShell 7, for Windows; infra/hooks/postdeploy.sh is the same for
# POSIX shells): Key Vault references the platform could not resolve yet (role assignments take
# minutes to apply) are retried by App Service only once a day, so ask for a refresh after each
# deploy. Needs the Azure CLI; without it, run the command in README "Registering a relay" by
# hand. azd passes the deployment's outputs (FUNCTION_APP_NAME) and the environment
# (AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP) as environment variables.
$ErrorActionPreference = 'Stop'

$missing = @('AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP', 'FUNCTION_APP_NAME') | Where-Object { -not [Environment]::GetEnvironmentVariable($_) }
if ($missing) {
    Write-Output "Key Vault references not refreshed: the azd environment lacks $($missing -join ' ') (run azd provision first)"
    exit 1
}
if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
    Write-Output 'Azure CLI not found: refresh the Key Vault references by hand (README, Registering a relay)'
    exit 0
}
$url = "/subscriptions/$($env:AZURE_SUBSCRIPTION_ID)/resourceGroups/$($env:AZURE_RESOURCE_GROUP)/providers/Microsoft.Web/sites/$($env:FUNCTION_APP_NAME)/config/configreferences/appsettings/refresh?api-version=2022-03-01"
az rest --method post --url $url | Out-Null
if ($LASTEXITCODE -eq 0) {
    Write-Output 'Key Vault references refreshed'
} else {
    Write-Output 'Key Vault references not refreshed (az rest failed, see above): run the command in README, Registering a relay'
    exit 1
}
