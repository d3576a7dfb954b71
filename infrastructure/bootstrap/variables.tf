variable "name" {
  description = "Prefix of the two app registrations (<name>-plan, <name>-deploy)."
  type        = string
  default     = "openssh-lakehouse"
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows may sign in."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository is owner/name, e.g. contoso/openssh-lakehouse."
  }
}

variable "tfstate_storage_account_id" {
  description = "Resource id of the storage account holding ../'s Terraform state (docs/deployment.md, step 2)."
  type        = string
}
