using './main.bicep'

param namePrefix = 'spool'
param maximumInstanceCount = 40
param instanceMemoryMB = 512
