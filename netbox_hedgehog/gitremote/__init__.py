"""Git access: talk to a GitRepository's remote with dulwich (docs/git.md), classify every failure."""
