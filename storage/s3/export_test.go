package s3

// ParseRetention exposes parseRetention to the external tests.
var ParseRetention = parseRetention

// VersionTime exposes versionTime to the external tests.
var VersionTime = versionTime
