// The Azure Monitor workbook, stored as a shared workbook on the workspace. Its content is
// ../workbook/writeback-monitor.workbook.json, checked in CI for structure and KQL.

param location string

@description('Display name in the Azure portal.')
param displayName string

@description('Resource id of the Log Analytics workspace the workbook queries and is filed under (made here or existingWorkspaceId).')
param workspaceId string

param tags object

var content = union(json(loadTextContent('../workbook/writeback-monitor.workbook.json')), {
  fallbackResourceIds: [workspaceId]
})

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // Workbook resource names must be GUIDs; this one is stable per workspace, so a redeployment
  // updates the workbook instead of adding another.
  name: guid(workspaceId, 'writeback-monitor-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: workspaceId
    serializedData: string(content)
  }
}

output id string = workbook.id
