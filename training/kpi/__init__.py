"""Business KPIs joined to served decisions: cost, failures and KPIs per arm and prompt version.

`tierwise evaluate --kpi EVENTS --logs LOGS` (training/replay/cli.py hands over to `cli.run`):
read the KPI events (`events`, schema `classifier.kpischema`), join them to the decision logs
(`join`), summarise per group with cluster-bootstrap intervals (`stats`) and write the report
(`report`).
"""
