variable "name" {
  description = "Name of the cluster, service and the resources around them."
  type        = string
  default     = "seipbot"
}

variable "image" {
  description = "The seipbot image, pinned by digest (repo@sha256:…) so that a task always runs what was reviewed."
  type        = string
}

variable "cpu_architecture" {
  description = "ARM64 or X86_64; the image is built for both."
  type        = string
  default     = "ARM64"
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository holding the image; the execution role may pull from it only."
  type        = string
}

variable "vpc_id" {
  description = "The VPC the service runs in."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (no route from the internet) for the tasks and for ElastiCache."
  type        = list(string)
}

variable "lb_security_group_id" {
  description = "Security group of the load balancer that forwards webhooks; the only source allowed to reach the tasks."
  type        = string
}

variable "lb_target_group_arn" {
  description = "Target group (type ip) for the webhook port; empty when the bot receives no webhooks."
  type        = string
  default     = ""
}

variable "webhook_port" {
  description = "Port of seipbot's HTTP server (http.listen): webhooks, /healthz, /readyz, /metrics."
  type        = number
  default     = 8080
}

variable "chat_egress_cidrs" {
  description = "Where the tasks may open HTTPS connections: the chat platform and the AWS APIs. Slack publishes no fixed ranges, hence the default; narrow it for a self-hosted chat server with VPC endpoints for AWS, or route through an egress proxy."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "desired_count" {
  description = "Number of tasks. More than one is safe: the replicas share Redis and claim each message once."
  type        = number
  default     = 2
}

variable "rooms" {
  description = "Comma-separated room allowlist (SEIPBOT_ROOMS)."
  type        = string
  default     = ""
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.micro"
}

variable "log_retention_days" {
  description = "How long CloudWatch keeps the bot's logs."
  type        = number
  default     = 90
}
