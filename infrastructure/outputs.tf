# What the deploy workflow reads (`terraform output -raw NAME`); tests/test_infra.py
# checks that every output the workflow asks for is defined here.

output "resource_group_name" {
  value = azurerm_resource_group.this.name
}

output "storage_account_name" {
  description = "The lake account: the ADF pipeline's storage_account parameter and `python -m lib upload --account`."
  value       = azurerm_storage_account.lake.name
}

output "databricks_workspace_url" {
  value = "https://${azurerm_databricks_workspace.this.workspace_url}"
}

output "databricks_workspace_resource_id" {
  description = "workspaceResourceId of the ADF linked service."
  value       = azurerm_databricks_workspace.this.id
}

output "databricks_cluster_id" {
  description = "The ADF pipeline's cluster_id parameter."
  value       = databricks_cluster.pipeline.id
}

output "databricks_repo_path" {
  description = "The ADF pipeline's repo_path parameter."
  value       = databricks_repo.project.path
}

output "data_factory_name" {
  value = azurerm_data_factory.this.name
}

output "key_vault_name" {
  value = azurerm_key_vault.this.name
}

output "acr_name" {
  value = azurerm_container_registry.this.name
}

output "acr_login_server" {
  value = azurerm_container_registry.this.login_server
}

output "aks_name" {
  value = azurerm_kubernetes_cluster.this.name
}

output "api_identity_client_id" {
  description = "Client id the API's service account is federated with (kubernetes/services-deployment.yaml)."
  value       = azurerm_user_assigned_identity.api.client_id
}

output "databricks_warehouse_id" {
  description = "The SQL warehouse the AI/BI dashboards (dashboards/) are published on."
  value       = databricks_sql_endpoint.dashboards.id
}

output "databricks_dashboard_path" {
  description = "Workspace folder of the AI/BI dashboards."
  value       = databricks_directory.dashboards.path
}
