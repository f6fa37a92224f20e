# seipbot on ECS Fargate, with ElastiCache for Redis as its store. See
# docs/deploy.md for the walkthrough. The VPC, its private subnets (with a
# NAT gateway or VPC endpoints for ECR, Secrets Manager, KMS and CloudWatch
# Logs) and the load balancer are taken as inputs: most teams have them
# already, and they are shared with other services.
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}
