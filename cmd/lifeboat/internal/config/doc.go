// Package config reads and validates the lifeboat configuration file
// (lifeboat.yaml): the repository settings, the storage regions, the named
// backup sources, restore drills, maintenance jobs and daemon settings.
//
// Its one job is to describe configuration: it decodes the YAML strictly
// (unknown keys are errors), applies defaults, resolves paths and checks
// every rule it can check without touching storage. It opens no storage and
// imports no other lifeboat package but the pure engine/retention (to check
// a source's keep: rules as forget reads them); the CLI turns a Config into backends and
// applies command-line flags and environment variables on top of it.
//
// Every problem is reported as an *Error that names the file, the line and
// the field, for example
//
//	lifeboat.yaml:12: regions[1].path: required for a local region
//
// Parse and Load return an ErrorList holding all problems found (sorted by
// line), so errors.As(err, &e) with e of type *Error yields the first one.
//
// Keys starting with "x-" are accepted and ignored anywhere, so that YAML
// anchors can be defined in them and merged elsewhere with "<<: *name".
//
// See example.yaml in this directory for a commented configuration file.
package config
