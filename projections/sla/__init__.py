"""SLA: the `sla_policies` read model (every version of each priority's policy) and the SLA
of tickets, measured at query time from the `tickets` rows and the policies."""
