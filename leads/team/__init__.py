"""The team: the manager's board, reps' presence and availability, reassignment, the routing dry run."""
