package main

// hostStateDir is where this host keeps what it last saw of each
// repository's history (repo.Options.StateDir): the daemon's state
// directory, or the one `lifeboat daemon` would use (--state-dir aside):
// LIFEBOAT_STATE_DIR, $XDG_STATE_HOME/lifeboat, ~/.local/state/lifeboat.
// "" when there is none (rollback detection then relies on the commit
// chains alone).
func (a *app) hostStateDir() string {
	if a.hostState != "" {
		return a.hostState
	}
	dir, err := a.stateDir("")
	if err != nil {
		return ""
	}
	return dir
}
