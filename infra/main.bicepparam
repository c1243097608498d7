using './main.bicep'

param namePrefix = 'spool'
param plan = 'flex'
param maximumInstanceCount = 40
param instanceMemoryMB = 512

// Entra ID sign-in (README "Signing callers in with Entra ID"); leave empty for
// function keys only.
param authIssuer = ''
param authAudience = ''
param authCliAppId = ''
