// spool in Azure: one storage account (buffers as blob containers, records in a
// table), and a Linux Flex Consumption function app running the Go custom handler.
// The app reaches storage only through its system-assigned identity: the account
// refuses shared keys, so every access URL spool hands out is a user-delegation SAS.

@description('Azure region for every resource.')
param location string = resourceGroup().location

@description('Prefix for resource names; lowercase letters and digits.')
@minLength(3)
@maxLength(11)
param namePrefix string = 'spool'

@description('Most instances the app may scale out to.')
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per instance, MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 512

@description('Entra ID sign-in: the token issuer(s), comma-separated, e.g. https://login.microsoftonline.com/<tenant>/v2.0,https://sts.windows.net/<tenant>/. Empty: function keys alone guard the API. Deploy a package built with `make package AUTH_MODE=entra` when set.')
param authIssuer string = ''

@description('Entra ID sign-in: the accepted token audience(s), comma-separated: the API app\'s App ID URI and its app ID, e.g. api://<api-app-id>,<api-app-id>.')
param authAudience string = ''

@description('Entra ID sign-in: the public client (CLI) app ID that metadata tells Tyger\'s CLI to sign in with.')
param authCliAppId string = ''

// The handler reads these (auth.FromEnv); without an issuer none is set and the app
// signs nobody in.
var signInSettings = empty(authIssuer) ? [] : [
  {
    name: 'SPOOL_AUTH_ISSUER'
    value: authIssuer
  }
  {
    name: 'SPOOL_AUTH_AUDIENCE'
    value: authAudience
  }
  {
    name: 'SPOOL_AUTH_CLI_APP_ID'
    value: authCliAppId
  }
]

var suffix = uniqueString(resourceGroup().id, namePrefix)
var storageName = take('${namePrefix}${suffix}', 24)
var appName = '${namePrefix}-${suffix}'
var deploymentContainer = 'app-package'
var recordsTablePrefix = 'spool'

// Built-in role definition IDs (stable across tenants).
var roles = {
  blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageName
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// Flex Consumption pulls the app package from here.
resource deployments 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainer
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// spool's tables (tablestore): records, the order and tag indexes, and the expiry
// index the SweepExpired timer reads. The handler would create them on first start;
// declaring them keeps the deployment complete and lets the identity do without
// table-creation rights in future.
resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for table in ['buffers', 'bufferorder', 'buffertags', 'bufferexpiry']: {
    parent: tableService
    name: '${recordsTablePrefix}${table}'
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: '${appName}-plan'
  location: location
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true // Linux
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  kind: 'functionapp,linux'
  dependsOn: [deployments]
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      // Flex Consumption takes the worker runtime from here: this is its form of
      // FUNCTIONS_WORKER_RUNTIME=custom, an app setting the plan refuses.
      runtime: {
        name: 'custom'
        version: '1.0'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: concat([
        // The Functions host's own storage (timers, keys), through the identity.
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storage.name
        }
        // spool's handler: account name only; endpoints are derived and the
        // credential is DefaultAzureCredential (the managed identity here).
        {
          name: 'SPOOL_STORAGE_ACCOUNT'
          value: storage.name
        }
        {
          name: 'SPOOL_TABLE_PREFIX'
          value: recordsTablePrefix
        }
        {
          name: 'SPOOL_LOCATION'
          value: location
        }
      ], signInSettings)
    }
  }
}

// Blob Data Owner: buffers' containers and blobs, user-delegation keys for SAS, and
// the deployment package. Table Data Contributor: buffer records and indexes. Queue
// Data Contributor: the Functions host's own bookkeeping.
resource blobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, app.id, roles.blobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataOwner)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, app.id, roles.tableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.tableDataContributor)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource queueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, app.id, roles.queueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataContributor)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output functionAppName string = app.name
output apiUrl string = 'https://${app.properties.defaultHostName}/api'
output storageAccountName string = storage.name
