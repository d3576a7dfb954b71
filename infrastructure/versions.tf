# Provider versions and configuration. State lives in an Azure Storage backend whose
# settings are passed at `terraform init -backend-config=...` (see docs/deployment.md),
# so no account name or key is written here.
terraform {
  required_version = ">= 1.6"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.81" # network_rule_bypass_for_tasks_enabled (ACR) arrived in 4.81
    }
    azuread = {
      source  = "hashicorp/azuread"
      version = "~> 3.0"
    }
    databricks = {
      source  = "databricks/databricks"
      version = "~> 1.60"
    }
  }

  backend "azurerm" {
    use_azuread_auth = true
  }
}

# Credentials come from the environment: OIDC in GitHub Actions (ARM_USE_OIDC,
# ARM_CLIENT_ID, ARM_TENANT_ID, ARM_SUBSCRIPTION_ID) or `az login` on a laptop.
provider "azurerm" {
  # Containers are managed through Resource Manager (storage_account_id), and the data
  # plane, where the provider touches it, uses Entra ID: shared keys are off.
  storage_use_azuread = true

  features {
    key_vault {
      purge_soft_delete_on_destroy = false
    }
  }
}

provider "azuread" {}

# Workspace-level Databricks provider, authenticated with the same Azure identity.
provider "databricks" {
  host                        = azurerm_databricks_workspace.this.workspace_url
  azure_workspace_resource_id = azurerm_databricks_workspace.this.id
}
