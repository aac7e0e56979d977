"""The resilience matrix: every dependency edge and service of a stack faulted in turn, under load,
every surface judged against the cell's own baseline, and every call that never gives up named.

`cells` (what the stack file alone implies), `model` (matrix.json, typed), `judge` (a cell's
entries and its callers' bound), `runner` (the cells on one kept stack), `outputs` (summary.md)."""
