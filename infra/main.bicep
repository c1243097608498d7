// spool in Azure: one storage account (buffers as blob containers, records in a
// table), a Linux function app running the Go custom handler (Flex Consumption by
// default, Elastic Premium EP1 with plan='ep1'; the README says why), and
// workspace-based Application Insights. The app reaches storage and Application
// Insights only through its system-assigned identity: the account refuses shared
// keys, so every access URL spool hands out is a user-delegation SAS, and
// Application Insights refuses telemetry not authenticated by Entra ID.

@description('Azure region for every resource.')
param location string = resourceGroup().location

@description('Prefix for resource names; lowercase letters and digits.')
@minLength(3)
@maxLength(11)
param namePrefix string = 'spool'

@description('Hosting plan: flex (Flex Consumption, the default) or ep1 (Elastic Premium EP1, the fallback should Flex refuse the custom runtime).')
@allowed(['flex', 'ep1'])
param plan string = 'flex'

@description('Most instances the app may scale out to. 40 keeps a burst inside one storage account\'s 20,000 table transactions/s; EP1 allows at most 100.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Days the Log Analytics workspace keeps telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('ep1 only: blob URL of the app package (dist/spool-functions.zip in the app-package container), read through the identity; empty means a zip deploy. Flex deploys into that container itself.')
param packageUrl string = ''

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
var isFlex = plan == 'flex'
var instanceLimit = isFlex ? maximumInstanceCount : min(maximumInstanceCount, 100)

// Built-in role definition IDs (stable across tenants).
var roles = {
  blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

// Telemetry: a workspace-based Application Insights that takes only
// Entra-authenticated ingestion (DisableLocalAuth), so its connection string alone
// cannot be used to send telemetry; the app's identity gets Monitoring Metrics
// Publisher on it, and APPLICATIONINSIGHTS_AUTHENTICATION_STRING makes the host
// authenticate with that identity.
resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${appName}-logs'
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${appName}-insights'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
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

resource hostingPlan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: '${appName}-plan'
  location: location
  kind: isFlex ? 'functionapp' : 'elastic'
  sku: isFlex ? {
    tier: 'FlexConsumption'
    name: 'FC1'
  } : {
    tier: 'ElasticPremium'
    name: 'EP1'
  }
  properties: {
    reserved: true // Linux
    maximumElasticWorkerCount: isFlex ? null : instanceLimit
  }
}

// App settings on every plan. The Functions host's own storage (timers, keys) and
// spool's handler (account name only; endpoints are derived and the credential is
// DefaultAzureCredential, the managed identity here) go through the identity.
var commonSettings = [
  {
    name: 'AzureWebJobsStorage__accountName'
    value: storage.name
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: appInsights.properties.ConnectionString
  }
  {
    // The system-assigned identity (a user-assigned one would add ClientId=...).
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'Authorization=AAD'
  }
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
]

// Elastic Premium takes the runtime and the package from app settings; the package
// is read from blob storage through the identity, so no Azure Files share (which
// would need the shared key the account refuses) is configured.
var premiumSettings = [
  {
    name: 'FUNCTIONS_EXTENSION_VERSION'
    value: '~4'
  }
  {
    name: 'FUNCTIONS_WORKER_RUNTIME'
    value: 'custom'
  }
  {
    // 1: run the zip a zip deploy put on the instance; a URL: that blob.
    name: 'WEBSITE_RUN_FROM_PACKAGE'
    value: empty(packageUrl) ? '1' : packageUrl
  }
]

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  kind: 'functionapp,linux'
  dependsOn: [deployments]
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: hostingPlan.id
    httpsOnly: true
    functionAppConfig: !isFlex ? null : {
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
        maximumInstanceCount: instanceLimit
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
      functionAppScaleLimit: isFlex ? null : instanceLimit
      minimumElasticInstanceCount: isFlex ? null : 1
      appSettings: concat(commonSettings, isFlex ? [] : premiumSettings, signInSettings)
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

// Monitoring Metrics Publisher: despite its name, the role Application Insights
// checks for every Entra-authenticated telemetry item.
resource telemetryRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, app.id, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output functionAppName string = app.name
output apiUrl string = 'https://${app.properties.defaultHostName}/api'
output storageAccountName string = storage.name
output appInsightsName string = appInsights.name
output hostingPlanName string = hostingPlan.name
