// Command lifeboat is the Lifeboat command-line interface and daemon: it
// reads the configuration, picks the storage backends for each region and
// the order of their wrappers, opens the repository and runs the engine's
// operations. It is the only package that knows concrete backends.
package main
