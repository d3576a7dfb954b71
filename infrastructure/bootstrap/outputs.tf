output "plan_client_id" {
  description = "GitHub variable AZURE_PLAN_CLIENT_ID."
  value       = azuread_application.plan.client_id
}

output "deploy_client_id" {
  description = "GitHub variable AZURE_CLIENT_ID."
  value       = azuread_application.deploy.client_id
}
