"""Fleet operations on Temporal: one operation (plan, deploy) over many stacks, in canary
and growing waves with health gates, bounded concurrency, capped retries and a failure
budget; approvals, retries and cancel are signals, status is a query. The rules are
``infra.core.fleet``; this package is the workflow, its activity (``tenantctl`` as a
subprocess per stack), the worker and the client calls the CLI makes."""
