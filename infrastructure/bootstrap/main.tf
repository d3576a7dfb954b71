# The two identities GitHub Actions deploys with, made once by a subscription Owner
# (`terraform -chdir=infrastructure/bootstrap init && ... apply`, local state: it holds no
# secret, the identities have none). Least privilege, each trusted for one OIDC subject:
#
# * plan   - `terraform plan` on pull requests, whose code is not yet reviewed: Reader on
#            the subscription and Storage Blob Data Reader on the Terraform state (it plans
#            with -lock=false), nothing that can change a resource;
# * deploy - `terraform apply` and the releases after the `production` environment's
#            approval: Contributor, plus Role Based Access Control Administrator limited by
#            a condition to the built-in roles that ../ assigns (never Owner, User Access
#            Administrator or RBAC Administrator itself), and the state's Blob Data Contributor.
terraform {
  required_version = ">= 1.6"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.81"
    }
    azuread = {
      source  = "hashicorp/azuread"
      version = "~> 3.0"
    }
  }
}

provider "azurerm" {
  storage_use_azuread = true
  features {}
}

provider "azuread" {}

data "azurerm_subscription" "this" {}

locals {
  issuer   = "https://token.actions.githubusercontent.com"
  audience = "api://AzureADTokenExchange"
  # Built-in roles ../ assigns to its managed identities (role definition ids are the same in every tenant).
  assignable_roles = {
    "Contributor"                                 = "b24988ac-6180-42a0-ab88-20f7382dd24c"
    "AcrPull"                                     = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
    "AcrPush"                                     = "8311e382-0749-4cb8-b61a-304f252e45ec"
    "Azure Kubernetes Service RBAC Cluster Admin" = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
    "Storage Blob Data Reader"                    = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
    "Storage Blob Data Contributor"               = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
    "Key Vault Secrets User"                      = "4633458b-17de-408a-b874-0445c86b69e6"
  }
  role_ids = join(", ", values(local.assignable_roles))
  # Role assignments may be written or deleted only for those roles.
  assign_condition = join(" AND ", [
    for action, attribute in { write = "Request", delete = "Resource" } :
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/${action}'})) OR (@${attribute}[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${local.role_ids}}))"
  ])
}

# ------------------------------------------------------------------ plan (pull requests)
resource "azuread_application" "plan" {
  display_name = "${var.name}-plan"
}

resource "azuread_service_principal" "plan" {
  client_id = azuread_application.plan.client_id
}

resource "azuread_application_federated_identity_credential" "plan_pull_request" {
  #checkov:skip=CKV_AZURE_249:The subject is repo:<owner/name>:..., one repository and one claim; checkov cannot resolve var.github_repository (no default), whose validation admits owner/name only, no wildcard.
  application_id = azuread_application.plan.id
  display_name   = "github-pull-request"
  issuer         = local.issuer
  audiences      = [local.audience]
  subject        = "repo:${var.github_repository}:pull_request"
}

resource "azurerm_role_assignment" "plan_reader" {
  scope                = data.azurerm_subscription.this.id
  role_definition_name = "Reader"
  principal_id         = azuread_service_principal.plan.object_id
}

resource "azurerm_role_assignment" "plan_state" {
  scope                = var.tfstate_storage_account_id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azuread_service_principal.plan.object_id
}

# ------------------------------------------------------------------ deploy (production)
resource "azuread_application" "deploy" {
  display_name = "${var.name}-deploy"
}

resource "azuread_service_principal" "deploy" {
  client_id = azuread_application.deploy.client_id
}

resource "azuread_application_federated_identity_credential" "deploy_production" {
  #checkov:skip=CKV_AZURE_249:The subject is repo:<owner/name>:..., one repository and one claim; checkov cannot resolve var.github_repository (no default), whose validation admits owner/name only, no wildcard.
  application_id = azuread_application.deploy.id
  display_name   = "github-environment-production"
  issuer         = local.issuer
  audiences      = [local.audience]
  subject        = "repo:${var.github_repository}:environment:production"
}

resource "azurerm_role_assignment" "deploy_contributor" {
  scope                = data.azurerm_subscription.this.id
  role_definition_name = "Contributor"
  principal_id         = azuread_service_principal.deploy.object_id
}

resource "azurerm_role_assignment" "deploy_assign_roles" {
  scope                = data.azurerm_subscription.this.id
  role_definition_name = "Role Based Access Control Administrator"
  principal_id         = azuread_service_principal.deploy.object_id
  condition_version    = "2.0"
  condition            = local.assign_condition
}

resource "azurerm_role_assignment" "deploy_state" {
  scope                = var.tfstate_storage_account_id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azuread_service_principal.deploy.object_id
}
