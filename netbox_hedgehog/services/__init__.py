"""The services: the code that applies the pure core's rules to the database and the cluster.

* `state`       the state service: transition() and the fabric's history (the one way to change a state);
* `connection`  connection tests, health checks, retries' timing, the stale-test reaper;
* `resources`   the resource store (what the cluster has, written by syncs and the watch);
* `sync`        reading a cluster into the store; the sync's own state and reaper;
* `rollup`      a fabric's resources rolled up into its counts and sync status;
* `reconcile`   bringing NetBox and the cluster together (apply or adopt, dry runs).

Services are called by the NetBox-facing code, the JobRunners (jobs.py) and the watch; they never
enqueue, find or cancel a job (an import-linter contract proves it).
"""
