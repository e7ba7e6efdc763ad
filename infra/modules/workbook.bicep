// The Azure Monitor workbook, stored as a shared workbook on the workspace. Its content is
// ../workbook/writeback-monitor.workbook.json, checked in CI for structure and KQL.

param location string

@description('Display name in the Azure portal.')
param displayName string

@description('Log Analytics workspace the workbook queries and is filed under.')
param workspaceName string

param tags object

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

var content = union(json(loadTextContent('../workbook/writeback-monitor.workbook.json')), {
  fallbackResourceIds: [workspace.id]
})

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // Workbook resource names must be GUIDs; this one is stable per workspace, so a redeployment
  // updates the workbook instead of adding another.
  name: guid(workspace.id, 'writeback-monitor-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: workspace.id
    serializedData: string(content)
  }
}

output id string = workbook.id
