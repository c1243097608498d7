using './main.bicep'

param namePrefix = 'spool'
param plan = 'flex'
param maximumInstanceCount = 40
param instanceMemoryMB = 512
